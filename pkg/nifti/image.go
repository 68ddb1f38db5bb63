package nifti

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Image is a NIfTI header plus its voxels, stored as in the file but in the
// machine's byte order, x fastest.
type Image struct {
	Header
	// Path is the file the image was read from (empty for New).
	Path string
	data []byte // 8-byte aligned
}

// nativeOrder is the machine's byte order.
var nativeOrder binary.ByteOrder = func() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()

// alloc returns an 8-byte aligned byte slice of length n.
func alloc(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// swapBytes reverses each unit-byte group of b in place.
func swapBytes(b []byte, unit int) {
	switch unit {
	case 0, 1:
	case 2:
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+3 < len(b); i += 4 {
			v := binary.LittleEndian.Uint32(b[i:])
			binary.BigEndian.PutUint32(b[i:], v)
		}
	case 8:
		for i := 0; i+7 < len(b); i += 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			binary.BigEndian.PutUint64(b[i:], v)
		}
	default:
		for i := 0; i+unit <= len(b); i += unit {
			g := b[i : i+unit]
			for l, r := 0, unit-1; l < r; l, r = l+1, r-1 {
				g[l], g[r] = g[r], g[l]
			}
		}
	}
}

// Number is the set of element types with a NIfTI datatype.
type Number interface {
	~uint8 | ~int8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64 | ~complex64 | ~complex128
}

// dtypeOf returns the datatype code of T.
func dtypeOf[T Number]() DataType {
	var z T
	switch any(z).(type) {
	case uint8:
		return DTUint8
	case int8:
		return DTInt8
	case int16:
		return DTInt16
	case uint16:
		return DTUint16
	case int32:
		return DTInt32
	case uint32:
		return DTUint32
	case int64:
		return DTInt64
	case uint64:
		return DTUint64
	case float32:
		return DTFloat32
	case float64:
		return DTFloat64
	case complex64:
		return DTComplex64
	case complex128:
		return DTComplex128
	}
	return 0
}

func viewAs[T any](b []byte) []T {
	var z T
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return []T{}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

func bytesOf[T any](s []T) []byte {
	var z T
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z)))
}

// Data returns the stored values as []T without copying; T must match the
// datatype exactly (no scaling applied).
func Data[T Number](img *Image) ([]T, error) {
	want := dtypeOf[T]()
	if img.Datatype != want {
		return nil, fmt.Errorf("nifti: %s: stored datatype is %s, not %s", img.name(), img.Datatype, want)
	}
	return viewAs[T](img.data), nil
}

func (img *Image) name() string {
	if img.Path == "" {
		return "(in memory)"
	}
	return img.Path
}

// Bytes returns the raw voxel bytes in the machine's byte order (no copy).
func (img *Image) Bytes() []byte { return img.data }

// Uint8 returns the stored uint8 values (no copy).
func (img *Image) Uint8() ([]uint8, error) { return Data[uint8](img) }

// Int8 returns the stored int8 values (no copy).
func (img *Image) Int8() ([]int8, error) { return Data[int8](img) }

// Int16 returns the stored int16 values (no copy).
func (img *Image) Int16() ([]int16, error) { return Data[int16](img) }

// Uint16 returns the stored uint16 values (no copy).
func (img *Image) Uint16() ([]uint16, error) { return Data[uint16](img) }

// Int32 returns the stored int32 values (no copy).
func (img *Image) Int32() ([]int32, error) { return Data[int32](img) }

// Uint32 returns the stored uint32 values (no copy).
func (img *Image) Uint32() ([]uint32, error) { return Data[uint32](img) }

// Int64 returns the stored int64 values (no copy).
func (img *Image) Int64() ([]int64, error) { return Data[int64](img) }

// Uint64 returns the stored uint64 values (no copy).
func (img *Image) Uint64() ([]uint64, error) { return Data[uint64](img) }

// Float32Raw returns the stored float32 values, unscaled (no copy).
func (img *Image) Float32Raw() ([]float32, error) { return Data[float32](img) }

// Float64Raw returns the stored float64 values, unscaled (no copy).
func (img *Image) Float64Raw() ([]float64, error) { return Data[float64](img) }

// RGB24 returns the stored RGB triplets, 3 bytes per voxel (no copy).
func (img *Image) RGB24() ([]byte, error) {
	if img.Datatype != DTRGB24 {
		return nil, fmt.Errorf("nifti: %s: stored datatype is %s, not rgb24", img.name(), img.Datatype)
	}
	return img.data, nil
}

// Float32 returns the scaled voxel values (scl_slope*v + scl_inter when the
// slope is valid) as float32, x fastest. For unscaled float32 data it returns
// the stored slice itself, without copying: modifying it modifies the image.
func (img *Image) Float32() ([]float32, error) {
	slope, inter, scaled, err := img.SlopeInter()
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", img.name(), err)
	}
	if !scaled {
		slope, inter = 1, 0
	}
	if img.Datatype == DTFloat32 && (!scaled || (slope == 1 && inter == 0)) {
		return viewAs[float32](img.data), nil
	}
	out := make([]float32, img.NumVoxels())
	if err := img.convert(out, slope, inter); err != nil {
		return nil, err
	}
	return out, nil
}

// Float64 returns the scaled voxel values as a new float64 slice.
func (img *Image) Float64() ([]float64, error) {
	slope, inter, scaled, err := img.SlopeInter()
	if err != nil {
		return nil, fmt.Errorf("nifti: %s: %w", img.name(), err)
	}
	if !scaled {
		slope, inter = 1, 0
	}
	out := make([]float64, img.NumVoxels())
	if err := img.convert64(out, slope, inter); err != nil {
		return nil, err
	}
	return out, nil
}

func convertTo64[S real](dst []float64, src []S, slope, inter float64) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = float64(v)*slope + inter
	}
}

func (img *Image) convert(out []float32, slope, inter float64) error {
	b := img.data
	switch img.Datatype {
	case DTUint8:
		convertTo(out, viewAs[uint8](b), slope, inter)
	case DTInt8:
		convertTo(out, viewAs[int8](b), slope, inter)
	case DTInt16:
		convertTo(out, viewAs[int16](b), slope, inter)
	case DTUint16:
		convertTo(out, viewAs[uint16](b), slope, inter)
	case DTInt32:
		convertTo(out, viewAs[int32](b), slope, inter)
	case DTUint32:
		convertTo(out, viewAs[uint32](b), slope, inter)
	case DTInt64:
		convertTo(out, viewAs[int64](b), slope, inter)
	case DTUint64:
		convertTo(out, viewAs[uint64](b), slope, inter)
	case DTFloat32:
		convertTo(out, viewAs[float32](b), slope, inter)
	case DTFloat64:
		convertTo(out, viewAs[float64](b), slope, inter)
	default:
		return fmt.Errorf("nifti: %s: datatype %s has no real scalar values", img.name(), img.Datatype)
	}
	return nil
}

func (img *Image) convert64(out []float64, slope, inter float64) error {
	b := img.data
	switch img.Datatype {
	case DTUint8:
		convertTo64(out, viewAs[uint8](b), slope, inter)
	case DTInt8:
		convertTo64(out, viewAs[int8](b), slope, inter)
	case DTInt16:
		convertTo64(out, viewAs[int16](b), slope, inter)
	case DTUint16:
		convertTo64(out, viewAs[uint16](b), slope, inter)
	case DTInt32:
		convertTo64(out, viewAs[int32](b), slope, inter)
	case DTUint32:
		convertTo64(out, viewAs[uint32](b), slope, inter)
	case DTInt64:
		convertTo64(out, viewAs[int64](b), slope, inter)
	case DTUint64:
		convertTo64(out, viewAs[uint64](b), slope, inter)
	case DTFloat32:
		convertTo64(out, viewAs[float32](b), slope, inter)
	case DTFloat64:
		convertTo64(out, viewAs[float64](b), slope, inter)
	default:
		return fmt.Errorf("nifti: %s: datatype %s has no real scalar values", img.name(), img.Datatype)
	}
	return nil
}

// real is the set of real element types.
type real interface {
	~uint8 | ~int8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64
}

// convertTo is the float32 hot loop: direct conversion, in float64 only when
// scaling so rounding happens once.
func convertTo[S real](dst []float32, src []S, slope, inter float64) {
	src = src[:len(dst)]
	if slope == 1 && inter == 0 {
		for i, v := range src {
			dst[i] = float32(v)
		}
		return
	}
	for i, v := range src {
		dst[i] = float32(float64(v)*slope + inter)
	}
}

// New makes an image of the given shape (x, y, z, ...; 1 to 7 dims) holding
// data, one of []uint8, []int8, []int16, []uint16, []int32, []uint32,
// []int64, []uint64, []float32, []float64, []complex64, []complex128 of
// length prod(shape). The image takes ownership of data (no copy). spacing
// gives pixdim for each dim (missing ones are 1). affine is the voxel-to-world
// matrix; its column norms must match spacing[0..2]. An all-zero affine means
// diag(spacing). The affine is stored as sform and qform, both with code 1
// (scanner), units mm and s.
func New(shape []int, spacing []float64, affine Affine, data any) (*Image, error) {
	var b []byte
	var dt DataType
	switch d := data.(type) {
	case []uint8:
		b, dt = bytesOf(d), DTUint8
	case []int8:
		b, dt = bytesOf(d), DTInt8
	case []int16:
		b, dt = bytesOf(d), DTInt16
	case []uint16:
		b, dt = bytesOf(d), DTUint16
	case []int32:
		b, dt = bytesOf(d), DTInt32
	case []uint32:
		b, dt = bytesOf(d), DTUint32
	case []int64:
		b, dt = bytesOf(d), DTInt64
	case []uint64:
		b, dt = bytesOf(d), DTUint64
	case []float32:
		b, dt = bytesOf(d), DTFloat32
	case []float64:
		b, dt = bytesOf(d), DTFloat64
	case []complex64:
		b, dt = bytesOf(d), DTComplex64
	case []complex128:
		b, dt = bytesOf(d), DTComplex128
	default:
		return nil, fmt.Errorf("nifti.New: unsupported data type %T", data)
	}
	return NewRaw(shape, spacing, affine, dt, b)
}

// NewRaw is New for raw bytes in the machine's byte order (e.g. RGB24).
func NewRaw(shape []int, spacing []float64, affine Affine, dt DataType, b []byte) (*Image, error) {
	if len(shape) < 1 || len(shape) > 7 {
		return nil, fmt.Errorf("nifti.New: %d dims, want 1..7", len(shape))
	}
	if len(spacing) > len(shape) {
		return nil, fmt.Errorf("nifti.New: %d spacings for %d dims", len(spacing), len(shape))
	}
	if !dt.Valid() {
		return nil, fmt.Errorf("nifti.New: unknown datatype %d", dt)
	}
	h := Header{Format: FormatNIfTI1, ByteOrder: nativeOrder, Single: true, Datatype: dt,
		XYZTUnits: 2 | 8, SclSlope: 1}
	h.Dim[0] = int64(len(shape))
	n := int64(1)
	for i, s := range shape {
		if s < 1 {
			return nil, fmt.Errorf("nifti.New: shape[%d]=%d, want at least 1", i, s)
		}
		h.Dim[i+1] = int64(s)
		if n > MaxDataBytes/int64(s) {
			return nil, fmt.Errorf("nifti.New: shape %v too large", shape)
		}
		n *= int64(s)
	}
	for i := len(shape) + 1; i < 8; i++ {
		h.Dim[i] = 1
	}
	for i := range h.Pixdim {
		h.Pixdim[i] = 1
	}
	for i, s := range spacing {
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("nifti.New: spacing[%d]=%v, want a positive finite number", i, s)
		}
		h.Pixdim[i+1] = s
	}
	if int64(len(b)) != n*int64(dt.Size()) {
		return nil, fmt.Errorf("nifti.New: %d bytes of %s for shape %v, want %d", len(b), dt, shape, n*int64(dt.Size()))
	}
	if affine == (Affine{}) {
		for i := 0; i < 3; i++ {
			affine[i][i] = h.Pixdim[i+1]
		}
		affine[3][3] = 1
	}
	if err := h.SetAffine(affine); err != nil {
		return nil, fmt.Errorf("nifti.New: %w", err)
	}
	for i := 0; i < 3 && i < len(spacing); i++ {
		if z := h.Pixdim[i+1]; math.Abs(z-spacing[i]) > 1e-4*math.Max(z, spacing[i]) {
			return nil, fmt.Errorf("nifti.New: spacing[%d]=%v does not match the affine's column norm %v", i, spacing[i], z)
		}
		h.Pixdim[i+1] = spacing[i]
	}
	// Keep 8-byte alignment for the typed views.
	if uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0 {
		nb := alloc(len(b))
		copy(nb, b)
		b = nb
	}
	return &Image{Header: h, data: b}, nil
}

// SetAffine stores a as both sform and qform (codes kept when nonzero, else 1),
// as nibabel does when saving an image with an affine.
func (h *Header) SetAffine(a Affine) error {
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			if math.IsNaN(a[i][j]) || math.IsInf(a[i][j], 0) {
				return fmt.Errorf("affine[%d][%d]=%v is not finite", i, j, a[i][j])
			}
		}
	}
	qc, sc := h.QformCode, h.SformCode
	if qc == 0 {
		qc = XformScannerAnat
	}
	if sc == 0 {
		sc = XformScannerAnat
	}
	if err := h.SetQForm(a, qc); err != nil {
		return err
	}
	h.SetSForm(a, sc)
	return nil
}
