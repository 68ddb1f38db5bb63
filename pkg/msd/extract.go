package msd

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// extractTar extracts the tar stream r (plain or gzip-compressed) into dir,
// which must exist. It refuses entries that would land outside dir (absolute
// names, ".." escapes, symbolic or hard links pointing outside), never creates
// links (a link inside the archive becomes a copy of its target when that is an
// already extracted file), skips "._*" AppleDouble files and entries that are
// neither files nor folders, and writes files with mode 0644. name is the
// archive's name for error messages.
func extractTar(r io.Reader, dir, name string) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("msd: %s: %w", name, err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	files := map[string]bool{} // cleaned names of extracted regular files
	entries := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			if err == io.ErrUnexpectedEOF {
				return fmt.Errorf("msd: %s: archive is truncated after %d entries", name, entries)
			}
			return fmt.Errorf("msd: %s: reading entry %d: %w", name, entries+1, err)
		}
		entries++
		clean, err := safeName(hdr.Name)
		if err != nil {
			return fmt.Errorf("msd: %s: entry %q: %w", name, hdr.Name, err)
		}
		if clean == "." || strings.HasPrefix(path.Base(clean), "._") {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(clean))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("msd: %s: %w", name, err)
			}
		case tar.TypeReg, tar.TypeRegA:
			if err := writeEntry(dst, tr); err != nil {
				if err == io.ErrUnexpectedEOF {
					return fmt.Errorf("msd: %s: archive is truncated inside %q", name, hdr.Name)
				}
				return fmt.Errorf("msd: %s: entry %q: %w", name, hdr.Name, err)
			}
			files[clean] = true
		case tar.TypeSymlink, tar.TypeLink:
			target := hdr.Linkname
			if hdr.Typeflag == tar.TypeSymlink && !path.IsAbs(target) {
				target = path.Join(path.Dir(clean), target) // symlinks are relative to their folder
			}
			t, err := safeName(target)
			if err != nil {
				return fmt.Errorf("msd: %s: link %q -> %q points outside the archive: %w", name, hdr.Name, hdr.Linkname, err)
			}
			if !files[t] {
				if hdr.Typeflag == tar.TypeLink {
					return fmt.Errorf("msd: %s: hard link %q -> %q: target is not an earlier file of the archive", name, hdr.Name, hdr.Linkname)
				}
				continue // a symlink to a folder or a later file: not needed for MSD sets
			}
			f, err := os.Open(filepath.Join(dir, filepath.FromSlash(t)))
			if err != nil {
				return fmt.Errorf("msd: %s: %w", name, err)
			}
			err = writeEntry(dst, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("msd: %s: link %q: %w", name, hdr.Name, err)
			}
			files[clean] = true
		default:
			// Devices, fifos, global headers: nothing to extract.
		}
	}
	if entries == 0 {
		return fmt.Errorf("msd: %s: empty or not a tar archive", name)
	}
	return nil
}

// safeName cleans a slash-separated archive name and refuses absolute names and
// names that climb out of the extraction folder.
func safeName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.ContainsRune(name, 0) {
		return "", errors.New("name contains NUL")
	}
	n := strings.ReplaceAll(name, `\`, "/")
	if path.IsAbs(n) || filepath.IsAbs(name) || (len(n) >= 2 && n[1] == ':') {
		return "", errors.New("absolute path")
	}
	clean := path.Clean(n)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", errors.New("path escapes the extraction folder")
	}
	return clean, nil
}

// writeEntry writes r to a new file dst (creating its folders).
func writeEntry(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
