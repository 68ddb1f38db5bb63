package nifti

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// maxDeflateRatio bounds how much a deflate stream can expand (about 1032:1),
// used to reject headers that ask for more data than a gzip file can hold.
const maxDeflateRatio = 1040

// maxHeaderFile caps the size of a .hdr file (header plus extensions).
const maxHeaderFile = 64 << 20

// Read reads a NIfTI-1/NIfTI-2 image (.nii, .nii.gz, .hdr/.img pair, gzipped
// or not; gzip is detected from the content) or a plain ANALYZE 7.5 pair.
// For a pair, path may name either file.
func Read(path string) (*Image, error) {
	hdrPath, imgPath, pair, err := pairPaths(path)
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", path, err)
	}
	if pair {
		return readPair(hdrPath, imgPath)
	}
	img, err := readSingle(path)
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", path, err)
	}
	img.Path = path
	return img, nil
}

// ReadHeader reads only the header and extensions of a file, checking that
// the file is long enough for the data the header describes (for gzip files,
// only that it could be).
func ReadHeader(path string) (*Header, error) {
	hdrPath, _, pair, err := pairPaths(path)
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", path, err)
	}
	if pair {
		h, err := readPairHeader(hdrPath)
		if err != nil {
			return nil, fmt.Errorf("nifti: %s: %w", hdrPath, err)
		}
		return h, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nifti: %w", err)
	}
	defer f.Close()
	r, limit, err := openStream(f)
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", path, err)
	}
	h, _, err := decodeHeader(r, limit)
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", path, err)
	}
	return h, nil
}

// Decode reads a single-file image (.nii, possibly gzipped) held in memory;
// name is used in error messages.
func Decode(name string, b []byte) (*Image, error) {
	img, err := decodeStream(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", name, err)
	}
	img.Path = name
	return img, nil
}

// DecodeHeader parses a header from memory (NIfTI-1, NIfTI-2 or, with
// allowAnalyze, ANALYZE 7.5), including extensions present in b.
func DecodeHeader(b []byte, allowAnalyze bool) (*Header, error) {
	h, err := parseHeader(b, allowAnalyze)
	if err != nil {
		return nil, fmt.Errorf("nifti: %w", err)
	}
	size, _, _ := detect(b)
	end := len(b)
	if h.Single && h.VoxOffset > int64(size) && h.VoxOffset < int64(end) {
		end = int(h.VoxOffset)
	}
	h.Extensions = parseExtensions(b[size:end], h.ByteOrder)
	return h, nil
}

// pairPaths finds the header and image files when path names a .hdr or .img
// file (optionally .gz).
func pairPaths(path string) (hdr, img string, pair bool, err error) {
	base := path
	gzSuffix := ""
	if strings.EqualFold(filepath.Ext(base), ".gz") {
		gzSuffix = base[len(base)-3:]
		base = base[:len(base)-3]
	}
	ext := filepath.Ext(base)
	var hdrExt, imgExt string
	switch ext {
	case ".hdr", ".img":
		hdrExt, imgExt = ".hdr", ".img"
	case ".HDR", ".IMG":
		hdrExt, imgExt = ".HDR", ".IMG"
	default:
		return "", "", false, nil
	}
	stem := base[:len(base)-len(ext)]
	find := func(e string) (string, error) {
		cands := []string{stem + e + gzSuffix}
		if gzSuffix == "" {
			cands = append(cands, stem+e+".gz")
		} else {
			cands = append(cands, stem+e)
		}
		for _, c := range cands {
			if _, err := os.Stat(c); err == nil {
				return c, nil
			}
		}
		return "", fmt.Errorf("missing %s file of the pair (tried %s)", e, strings.Join(cands, ", "))
	}
	if hdr, err = find(hdrExt); err != nil {
		return "", "", true, err
	}
	if img, err = find(imgExt); err != nil {
		return "", "", true, err
	}
	return hdr, img, true, nil
}

// openStream returns a reader of the decompressed content of f and, for gzip
// input, a bound on the decompressed size (else the file size).
func openStream(f *os.File) (io.Reader, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(f, 256<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, fmt.Errorf("gzip: %v", err)
		}
		return zr, st.Size()*maxDeflateRatio + 1<<16, nil
	}
	return br, st.Size(), nil
}

// decodeHeader reads the header and the bytes up to vox_offset from r.
// limit is the most bytes r can deliver (-1: only read the header).
func decodeHeader(r io.Reader, limit int64) (*Header, int64, error) {
	hb := make([]byte, SizeofHdr2)
	if n, err := io.ReadFull(r, hb[:SizeofHdr1]); err != nil {
		return nil, 0, herr("sizeof_hdr", "file ends after %d bytes, inside the header (%v)", n, streamErr(err))
	}
	size, _, err := detect(hb)
	if err != nil {
		return nil, 0, err
	}
	if size == SizeofHdr2 {
		if n, err := io.ReadFull(r, hb[SizeofHdr1:]); err != nil {
			return nil, 0, herr("sizeof_hdr", "file ends after %d bytes, inside the NIfTI-2 header (%v)", SizeofHdr1+n, streamErr(err))
		}
	}
	h, err := parseHeader(hb[:size], false)
	if err != nil {
		return nil, 0, err
	}
	if !h.Single {
		return nil, 0, herr("magic", "header of a .hdr/.img pair (ni1/ni2) in a single file; read it as .hdr")
	}
	off := h.VoxOffset
	if off == 0 {
		off = int64(size) + 4
	}
	if off < int64(size)+4 {
		return nil, 0, herr("vox_offset", "%d is inside the %d-byte header", h.VoxOffset, size+4)
	}
	if limit < 0 {
		return h, off, nil
	}
	nbytes := int64(h.NumVoxels()) * int64(h.Datatype.Size())
	if off > limit {
		return nil, 0, herr("vox_offset", "%d is beyond the end of the file (%d bytes)", off, limit)
	}
	if off+nbytes > limit {
		return nil, 0, herr("data", "header says %d bytes of %s at vox_offset %d, the file holds at most %d", nbytes, h.Datatype, off, limit-off)
	}
	var ext bytes.Buffer
	if n, err := io.CopyN(&ext, r, off-int64(size)); err != nil {
		return nil, 0, herr("vox_offset", "file ends after %d bytes, before vox_offset %d (%v)", int64(size)+n, off, streamErr(err))
	}
	h.Extensions = parseExtensions(ext.Bytes(), h.ByteOrder)
	return h, off, nil
}

func streamErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("truncated")
	}
	return err
}

// readSingle reads a .nii or .nii.gz file.
func readSingle(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	var magic [2]byte
	n, _ := f.ReadAt(magic[:], 0)
	if n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return decodeStream(f, st.Size())
	}
	// Plain file: header by ReadAt, data straight into the buffer.
	hb := make([]byte, SizeofHdr2)
	n, _ = f.ReadAt(hb, 0)
	h, off, err := decodeHeader(bytes.NewReader(hb[:n]), -1)
	if err != nil {
		return nil, err
	}
	nbytes := int64(h.NumVoxels()) * int64(h.Datatype.Size())
	if err := checkSpan(h, off, nbytes, st.Size()); err != nil {
		return nil, err
	}
	if off > int64(len(hb)) {
		eb := make([]byte, off-int64(SizeofHdr(h)))
		if _, err := f.ReadAt(eb, int64(SizeofHdr(h))); err != nil {
			return nil, herr("vox_offset", "reading extensions: %v", err)
		}
		h.Extensions = parseExtensions(eb, h.ByteOrder)
	} else {
		h.Extensions = parseExtensions(hb[SizeofHdr(h):min(off, int64(n))], h.ByteOrder)
	}
	data := alloc(int(nbytes))
	if _, err := f.ReadAt(data, off); err != nil && !(errors.Is(err, io.EOF) && len(data) == 0) {
		return nil, herr("data", "reading %d bytes at %d: %v", nbytes, off, streamErr(err))
	}
	return finish(h, data), nil
}

// SizeofHdr is the header size of h's format in bytes (348 or 540).
func SizeofHdr(h *Header) int {
	if h.Format == FormatNIfTI2 {
		return SizeofHdr2
	}
	return SizeofHdr1
}

func checkSpan(h *Header, off, nbytes, size int64) error {
	if off > size {
		return herr("vox_offset", "%d is beyond the end of the file (%d bytes)", off, size)
	}
	if off+nbytes > size {
		return herr("data", "header says %d bytes of %s at offset %d, the file has only %d", nbytes, h.Datatype, off, size-off)
	}
	return nil
}

// Pools of buffered and gzip readers: their buffers and inflate tables are
// reused across files, which matters when reading many small volumes.
var (
	bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}
	gzPool  sync.Pool
)

// gzipReader returns a pooled gzip reader on r; release it with putGzip.
func gzipReader(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzPool.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			gzPool.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

// decodeStream reads a single-file image from r (gzip detected from the
// content); size is the size of r's content.
func decodeStream(r io.Reader, size int64) (*Image, error) {
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	var src io.Reader = br
	limit := size
	gz := false
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzipReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
		defer gzPool.Put(zr)
		src, limit, gz = zr, size*maxDeflateRatio+1<<16, true
	}
	h, _, err := decodeHeader(src, limit)
	if err != nil {
		return nil, err
	}
	data, err := readData(h, src, gz)
	if err != nil {
		return nil, err
	}
	return finish(h, data), nil
}

// readData reads the voxel bytes from r, positioned at vox_offset. For gzip
// streams the rest of the stream is checked (CRC and length) when short.
func readData(h *Header, r io.Reader, gz bool) ([]byte, error) {
	nbytes := int64(h.NumVoxels()) * int64(h.Datatype.Size())
	data := alloc(int(nbytes))
	if n, err := io.ReadFull(r, data); err != nil {
		if gz && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("gzip: corrupt stream after %d of %d data bytes: %v", n, nbytes, err)
		}
		return nil, herr("data", "truncated: file ends after %d of %d data bytes (%s)", n, nbytes, h.Datatype)
	}
	if gz {
		// Reach the end of the stream so the gzip CRC-32 and size are checked;
		// a long tail beyond the data is left unchecked.
		if _, err := io.CopyN(io.Discard, r, 1<<20); err != nil && err != io.EOF {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errors.New("gzip: truncated stream (ends before its CRC-32 and size)")
			}
			return nil, fmt.Errorf("gzip: corrupt stream: %v", err)
		}
	}
	return data, nil
}

func finish(h *Header, data []byte) *Image {
	if h.ByteOrder != nativeOrder {
		swapBytes(data, dtTable[h.Datatype].swap)
	}
	return &Image{Header: *h, data: data}
}

// readContent reads a whole (possibly gzipped) file of at most max decompressed bytes.
func readContent(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, _, err := openStream(f)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: corrupt stream: %v", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("header file larger than %d bytes", max)
	}
	return b, nil
}

func readPairHeader(hdrPath string) (*Header, error) {
	b, err := readContent(hdrPath, maxHeaderFile)
	if err != nil {
		return nil, err
	}
	if len(b) < SizeofHdr1 {
		return nil, herr("sizeof_hdr", "file has %d bytes, less than a header", len(b))
	}
	h, err := parseHeader(b, true)
	if err != nil {
		return nil, err
	}
	if h.Single {
		return nil, herr("magic", "single-file magic (n+1/n+2) in a .hdr file")
	}
	h.Extensions = parseExtensions(b[SizeofHdr(h):], h.ByteOrder)
	return h, nil
}

func readPair(hdrPath, imgPath string) (*Image, error) {
	h, err := readPairHeader(hdrPath)
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", hdrPath, err)
	}
	img, err := readPairData(h, imgPath)
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", imgPath, err)
	}
	img.Path = hdrPath
	return img, nil
}

func readPairData(h *Header, imgPath string) (*Image, error) {
	f, err := os.Open(imgPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	nbytes := int64(h.NumVoxels()) * int64(h.Datatype.Size())
	off := h.VoxOffset
	var magic [2]byte
	if n, _ := f.ReadAt(magic[:], 0); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		br := bufPool.Get().(*bufio.Reader)
		br.Reset(f)
		defer func() { br.Reset(nil); bufPool.Put(br) }()
		zr, err := gzipReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
		defer gzPool.Put(zr)
		limit := st.Size()*maxDeflateRatio + 1<<16
		if err := checkSpan(h, off, nbytes, limit); err != nil {
			return nil, err
		}
		if n, err := io.CopyN(io.Discard, zr, off); err != nil {
			return nil, herr("vox_offset", "file ends after %d bytes, before vox_offset %d (%v)", n, off, streamErr(err))
		}
		data, err := readData(h, zr, true)
		if err != nil {
			return nil, err
		}
		return finish(h, data), nil
	}
	if err := checkSpan(h, off, nbytes, st.Size()); err != nil {
		return nil, err
	}
	data := alloc(int(nbytes))
	if _, err := f.ReadAt(data, off); err != nil && !(errors.Is(err, io.EOF) && len(data) == 0) {
		return nil, herr("data", "reading %d bytes at %d: %v", nbytes, off, streamErr(err))
	}
	return finish(h, data), nil
}
