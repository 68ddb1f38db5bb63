// Package atomicfile writes files so that readers see either the old content
// or the whole new content, never a part: the data go to a temporary file in
// the same folder, which is then renamed over the target (rename is atomic
// within a file system on POSIX systems). A failed write removes the
// temporary file and leaves the target untouched.
package atomicfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates path's folder if needed and writes path with the bytes fn
// writes, atomically; with sync the data reach the disk before the rename.
func Write(path string, sync bool, fn func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	err = fn(tmp)
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteFile writes b to path atomically and durably (synced before the rename).
func WriteFile(path string, b []byte) error {
	return Write(path, true, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// WriteFileNoSync is WriteFile without the sync: still atomic for readers,
// but a crash may leave the old content (for caches that can be rebuilt).
func WriteFileNoSync(path string, b []byte) error {
	return Write(path, false, func(w io.Writer) error { _, err := io.Copy(w, bytes.NewReader(b)); return err })
}
