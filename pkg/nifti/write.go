package nifti

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// WriteOptions control Write.
type WriteOptions struct {
	// GzipLevel is the compression level for .gz files (default 1, as nibabel).
	GzipLevel int
	// Format forces FormatNIfTI2; by default NIfTI-1 is written unless a
	// value does not fit its fields (a dim over 32767, a float over float32).
	Format Format
	// ByteOrder of the file; nil means little-endian.
	ByteOrder binary.ByteOrder
}

func (o WriteOptions) order() binary.ByteOrder {
	if o.ByteOrder == nil {
		return binary.LittleEndian
	}
	return o.ByteOrder
}

// Write writes img to path as a single-file NIfTI (.nii, or gzipped when the
// name ends in .gz), little-endian (see WriteWith for options), through a temporary file renamed into
// place. NIfTI-2 is used when a dimension does not fit NIfTI-1's int16.
func Write(path string, img *Image) error {
	return WriteWith(path, img, WriteOptions{})
}

// WriteWith is Write with options.
func WriteWith(path string, img *Image, opt WriteOptions) error {
	if err := writeFile(path, img, opt); err != nil {
		return fmt.Errorf("nifti: writing %s: %w", path, err)
	}
	return nil
}

func writeFile(path string, img *Image, opt WriteOptions) error {
	if img == nil {
		return errors.New("nil image")
	}
	lower := strings.ToLower(path)
	gz := strings.HasSuffix(lower, ".gz")
	if base := strings.TrimSuffix(lower, ".gz"); !strings.HasSuffix(base, ".nii") {
		return fmt.Errorf("file name must end in .nii or .nii.gz")
	}
	hdr, ext, err := prepare(img, opt)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := encode(bw, img, hdr, ext, gz, opt); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// writeData writes native-order voxel bytes in byte order bo.
func writeData(w io.Writer, data []byte, unit int, bo binary.ByteOrder) error {
	if nativeOrder == bo || unit <= 1 {
		_, err := w.Write(data)
		return err
	}
	buf := make([]byte, 1<<20)
	for len(data) > 0 {
		n := min(len(buf)/unit*unit, len(data))
		copy(buf, data[:n])
		swapBytes(buf[:n], unit)
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// prepare validates img and returns its encoded header and extensions.
func prepare(img *Image, opt WriteOptions) (hdr, ext []byte, err error) {
	if img == nil {
		return nil, nil, errors.New("nil image")
	}
	h := img.Header
	if err := h.validate(); err != nil {
		return nil, nil, err
	}
	nbytes := int64(h.NumVoxels()) * int64(h.Datatype.Size())
	if int64(len(img.data)) != nbytes {
		return nil, nil, fmt.Errorf("image holds %d bytes, header needs %d", len(img.data), nbytes)
	}
	format := FormatNIfTI1
	if opt.Format == FormatNIfTI2 {
		format = FormatNIfTI2
	}
	for i := 0; i < 8; i++ {
		if h.Dim[i] > math.MaxInt16 || h.SliceStart > math.MaxInt16 || h.SliceEnd > math.MaxInt16 ||
			h.SliceStart < math.MinInt16 || h.SliceEnd < math.MinInt16 {
			format = FormatNIfTI2
		}
	}
	// Values that would overflow or underflow to 0 in NIfTI-1's float32 fields
	// also need NIfTI-2.
	floats := []float64{h.IntentP1, h.IntentP2, h.IntentP3, h.SclSlope, h.SclInter, h.CalMax, h.CalMin,
		h.SliceDuration, h.Toffset, h.QuaternB, h.QuaternC, h.QuaternD, h.QoffsetX, h.QoffsetY, h.QoffsetZ}
	floats = append(floats, h.Pixdim[:]...)
	floats = append(floats, h.SrowX[:]...)
	floats = append(floats, h.SrowY[:]...)
	floats = append(floats, h.SrowZ[:]...)
	for _, v := range floats {
		if a := math.Abs(v); a > math.MaxFloat32 && !math.IsInf(v, 0) || a != 0 && float32(a) == 0 {
			format = FormatNIfTI2
		}
	}
	for i := h.NDim() + 1; i < 8; i++ {
		h.Dim[i] = 1
	}
	if h.Format == FormatANALYZE {
		// Carry the ANALYZE geometry over as an sform.
		h.SetSForm(h.analyzeAffine(), XformAlignedAnat)
		h.Pixdim[0] = 1
		slope, inter, ok, _ := h.SlopeInter()
		if !ok {
			slope, inter = 0, 0
		}
		h.SclSlope, h.SclInter = slope, inter
		h.Format = FormatNIfTI1
	}
	ext = encodeExtensions(h.Extensions, opt.order())
	off := int64(SizeofHdr1) + int64(len(ext))
	if format == FormatNIfTI2 {
		off = int64(SizeofHdr2) + int64(len(ext))
	}
	return h.encode(format, opt.order(), true, off), ext, nil
}

// Encode writes img as a single-file NIfTI to w, gzipped when gz is true
// (the bytes Write would put in a file).
func Encode(w io.Writer, img *Image, gz bool, opt WriteOptions) error {
	hdr, ext, err := prepare(img, opt)
	if err != nil {
		return err
	}
	return encode(w, img, hdr, ext, gz, opt)
}

func encode(w io.Writer, img *Image, hdr, ext []byte, gz bool, opt WriteOptions) error {
	level := opt.GzipLevel
	if level == 0 {
		level = 1
	}
	var zw *gzip.Writer
	if gz {
		var err error
		if zw, err = gzip.NewWriterLevel(w, level); err != nil {
			return err
		}
		w = zw
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := w.Write(ext); err != nil {
		return err
	}
	if err := writeData(w, img.data, dtTable[img.Datatype].swap, opt.order()); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}
