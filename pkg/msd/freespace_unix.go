//go:build linux || darwin || freebsd

package msd

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FreeSpace returns the bytes available to the user on the file system
// holding dir (or its nearest existing parent), or -1 when unknown.
func FreeSpace(dir string) int64 {
	for {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil {
			return int64(st.Bavail) * int64(st.Bsize)
		} else if !os.IsNotExist(err) {
			return -1
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return -1
		}
		dir = parent
	}
}
