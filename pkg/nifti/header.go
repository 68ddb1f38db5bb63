package nifti

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// DataType is a NIfTI datatype code.
type DataType int16

// NIfTI datatype codes.
const (
	DTUint8      DataType = 2
	DTInt16      DataType = 4
	DTInt32      DataType = 8
	DTFloat32    DataType = 16
	DTComplex64  DataType = 32
	DTFloat64    DataType = 64
	DTRGB24      DataType = 128
	DTInt8       DataType = 256
	DTUint16     DataType = 512
	DTUint32     DataType = 768
	DTInt64      DataType = 1024
	DTUint64     DataType = 1280
	DTFloat128   DataType = 1536
	DTComplex128 DataType = 1792
	DTComplex256 DataType = 2048
	DTRGBA32     DataType = 2304
)

type dtInfo struct {
	name string
	size int // bytes per voxel
	swap int // byte-swap unit (0: no swapping)
}

var dtTable = map[DataType]dtInfo{
	DTUint8:      {"uint8", 1, 0},
	DTInt16:      {"int16", 2, 2},
	DTInt32:      {"int32", 4, 4},
	DTFloat32:    {"float32", 4, 4},
	DTComplex64:  {"complex64", 8, 4},
	DTFloat64:    {"float64", 8, 8},
	DTRGB24:      {"rgb24", 3, 0},
	DTInt8:       {"int8", 1, 0},
	DTUint16:     {"uint16", 2, 2},
	DTUint32:     {"uint32", 4, 4},
	DTInt64:      {"int64", 8, 8},
	DTUint64:     {"uint64", 8, 8},
	DTFloat128:   {"float128", 16, 16},
	DTComplex128: {"complex128", 16, 8},
	DTComplex256: {"complex256", 32, 16},
	DTRGBA32:     {"rgba32", 4, 0},
}

// Size is the number of bytes per voxel, 0 for an unknown code.
func (d DataType) Size() int { return dtTable[d].size }

// Valid reports whether d is a known datatype code.
func (d DataType) Valid() bool { _, ok := dtTable[d]; return ok }

func (d DataType) String() string {
	if i, ok := dtTable[d]; ok {
		return i.name
	}
	return fmt.Sprintf("datatype(%d)", int16(d))
}

// Transform codes for qform_code and sform_code.
const (
	XformUnknown     = 0
	XformScannerAnat = 1
	XformAlignedAnat = 2
	XformTalairach   = 3
	XformMNI152      = 4
	XformTemplate    = 5 // NIfTI-1.1 "template other"
)

// Format tells which header layout a file uses.
type Format int

// Header formats.
const (
	FormatNIfTI1  Format = 1
	FormatNIfTI2  Format = 2
	FormatANALYZE Format = 7 // ANALYZE 7.5 (no magic)
)

func (f Format) String() string {
	switch f {
	case FormatNIfTI1:
		return "NIfTI-1"
	case FormatNIfTI2:
		return "NIfTI-2"
	case FormatANALYZE:
		return "ANALYZE-7.5"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// Header sizes in bytes.
const (
	SizeofHdr1 = 348
	SizeofHdr2 = 540
)

// Extension is one NIfTI header extension (esize/ecode/data).
type Extension struct {
	Code int32
	Data []byte // padding included as stored
}

// Header holds the fields of a NIfTI-1/NIfTI-2/ANALYZE header, widened to
// the NIfTI-2 types. Fields not listed (ANALYZE leftovers) are not kept,
// except Origin for ANALYZE/SPM files.
type Header struct {
	Format    Format
	ByteOrder binary.ByteOrder // byte order of the file
	Single    bool             // magic n+1/n+2: header and data in one file

	DimInfo        uint8
	Dim            [8]int64
	IntentP1       float64
	IntentP2       float64
	IntentP3       float64
	IntentCode     int32
	Datatype       DataType
	Bitpix         int16
	SliceStart     int64
	Pixdim         [8]float64
	VoxOffset      int64
	SclSlope       float64
	SclInter       float64
	SliceEnd       int64
	SliceCode      uint8
	XYZTUnits      uint8
	CalMax, CalMin float64
	SliceDuration  float64
	Toffset        float64
	Descrip        string
	AuxFile        string
	QformCode      int32
	SformCode      int32
	QuaternB       float64
	QuaternC       float64
	QuaternD       float64
	QoffsetX       float64
	QoffsetY       float64
	QoffsetZ       float64
	SrowX          [4]float64
	SrowY          [4]float64
	SrowZ          [4]float64
	IntentName     string
	// Glmax and Glmin are ANALYZE's (unscaled) data range, used by SPM2
	// scaling; NIfTI ignores them.
	Glmax, Glmin int32
	// Origin is the SPM "originator" field of ANALYZE headers (1-based voxel).
	Origin     [3]int16
	Extensions []Extension
}

// NDim is dim[0], the number of dimensions.
func (h *Header) NDim() int { return int(h.Dim[0]) }

// Shape returns dim[1..dim[0]] (x, y, z, t, ...).
func (h *Header) Shape() []int {
	n := h.NDim()
	s := make([]int, n)
	for i := range s {
		s[i] = int(h.Dim[i+1])
	}
	return s
}

// NumVoxels is the product of the dims.
func (h *Header) NumVoxels() int {
	n := 1
	for i := 1; i <= h.NDim(); i++ {
		n *= int(h.Dim[i])
	}
	return n
}

// Spacing returns pixdim[1..dim[0]] (nibabel's get_zooms), in the file's units.
func (h *Header) Spacing() []float64 {
	n := h.NDim()
	s := make([]float64, n)
	copy(s, h.Pixdim[1:n+1])
	return s
}

// SpatialUnit returns the spatial unit name: "unknown", "m", "mm" or "um".
func (h *Header) SpatialUnit() string {
	switch h.XYZTUnits & 0x07 {
	case 1:
		return "m"
	case 2:
		return "mm"
	case 3:
		return "um"
	}
	return "unknown"
}

// TimeUnit returns the temporal unit name: "unknown", "s", "ms", "us", "Hz",
// "ppm" or "rad/s".
func (h *Header) TimeUnit() string {
	switch h.XYZTUnits & 0x38 {
	case 8:
		return "s"
	case 16:
		return "ms"
	case 24:
		return "us"
	case 32:
		return "Hz"
	case 40:
		return "ppm"
	case 48:
		return "rad/s"
	}
	return "unknown"
}

// SlopeInter returns the scaling to apply as nibabel's get_slope_inter: ok is
// false when scl_slope is 0 or not finite (no scaling). A finite slope with a
// non-finite intercept is an error.
func (h *Header) SlopeInter() (slope, inter float64, ok bool, err error) {
	s, i := h.SclSlope, h.SclInter
	if h.Format == FormatANALYZE {
		// SPM2's rule (nibabel Spm2AnalyzeHeader): funused1/funused2, else
		// the ratio of the cal and gl ranges.
		if s != 0 && !math.IsNaN(s) && !math.IsInf(s, 0) {
			if math.IsNaN(i) || math.IsInf(i, 0) {
				i = 0
			}
			return s, i, true, nil
		}
		ur := float64(h.Glmax) - float64(h.Glmin)
		sr := h.CalMax - h.CalMin
		if ur != 0 && sr != 0 && !math.IsNaN(sr) && !math.IsInf(sr, 0) {
			s = sr / ur
			return s, h.CalMin - s*float64(h.Glmin), true, nil
		}
		return 0, 0, false, nil
	}
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return 0, 0, false, nil
	}
	if math.IsNaN(i) || math.IsInf(i, 0) {
		return 0, 0, false, fmt.Errorf("scl_inter=%v is not finite while scl_slope=%v is valid", i, s)
	}
	return s, i, true, nil
}

// hdrError is a header problem naming the field.
type hdrError struct {
	field, msg string
}

func (e *hdrError) Error() string { return e.field + ": " + e.msg }

func herr(field, format string, a ...any) error {
	return &hdrError{field, fmt.Sprintf(format, a...)}
}

// detect looks at the first 4 bytes and returns the header size and byte order.
func detect(b []byte) (int, binary.ByteOrder, error) {
	if len(b) < 4 {
		return 0, nil, herr("sizeof_hdr", "file too short for a header (%d bytes)", len(b))
	}
	le := int32(binary.LittleEndian.Uint32(b))
	be := int32(binary.BigEndian.Uint32(b))
	switch {
	case le == SizeofHdr1:
		return SizeofHdr1, binary.LittleEndian, nil
	case be == SizeofHdr1:
		return SizeofHdr1, binary.BigEndian, nil
	case le == SizeofHdr2:
		return SizeofHdr2, binary.LittleEndian, nil
	case be == SizeofHdr2:
		return SizeofHdr2, binary.BigEndian, nil
	}
	return 0, nil, herr("sizeof_hdr", "is %d (byte-swapped %d), want 348 (NIfTI-1/ANALYZE) or 540 (NIfTI-2)", le, be)
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// parseHeader decodes a 348- or 540-byte header. allowAnalyze accepts a
// 348-byte header without NIfTI magic as ANALYZE 7.5.
func parseHeader(b []byte, allowAnalyze bool) (*Header, error) {
	size, bo, err := detect(b)
	if err != nil {
		return nil, err
	}
	if len(b) < size {
		return nil, herr("sizeof_hdr", "header is %d bytes, only %d available", size, len(b))
	}
	h := &Header{ByteOrder: bo}
	u16 := func(o int) int16 { return int16(bo.Uint16(b[o:])) }
	u32 := func(o int) int32 { return int32(bo.Uint32(b[o:])) }
	u64 := func(o int) int64 { return int64(bo.Uint64(b[o:])) }
	f32 := func(o int) float64 { return float64(math.Float32frombits(bo.Uint32(b[o:]))) }
	f64 := func(o int) float64 { return math.Float64frombits(bo.Uint64(b[o:])) }

	if size == SizeofHdr1 {
		magic := string(b[344:348])
		switch magic {
		case "n+1\x00":
			h.Format, h.Single = FormatNIfTI1, true
		case "ni1\x00":
			h.Format = FormatNIfTI1
		default:
			if !allowAnalyze {
				return nil, herr("magic", "%q is not a NIfTI-1 magic (n+1 or ni1); ANALYZE headers need a .hdr/.img pair", magic)
			}
			h.Format = FormatANALYZE
		}
		h.DimInfo = b[39]
		for i := 0; i < 8; i++ {
			h.Dim[i] = int64(u16(40 + 2*i))
			h.Pixdim[i] = f32(76 + 4*i)
		}
		h.Datatype = DataType(u16(70))
		h.Bitpix = u16(72)
		vo := f32(108)
		if math.IsNaN(vo) || vo < 0 || vo > 1<<40 {
			return nil, herr("vox_offset", "%v is not a valid offset", vo)
		}
		h.VoxOffset = int64(vo)
		h.Descrip = cstr(b[148:228])
		h.AuxFile = cstr(b[228:252])
		h.SclSlope, h.SclInter = f32(112), f32(116)
		h.CalMax, h.CalMin = f32(124), f32(128)
		h.Glmax, h.Glmin = u32(140), u32(144)
		if h.Format == FormatANALYZE {
			// ANALYZE: funused1/2 at 112/116 are SPM's scale factor and
			// intercept; originator at 253.
			for i := 0; i < 3; i++ {
				h.Origin[i] = u16(253 + 2*i)
			}
		} else {
			h.IntentP1, h.IntentP2, h.IntentP3 = f32(56), f32(60), f32(64)
			h.IntentCode = int32(u16(68))
			h.SliceStart = int64(u16(74))
			h.SliceEnd = int64(u16(120))
			h.SliceCode = b[122]
			h.XYZTUnits = b[123]
			h.SliceDuration, h.Toffset = f32(132), f32(136)
			h.QformCode, h.SformCode = int32(u16(252)), int32(u16(254))
			h.QuaternB, h.QuaternC, h.QuaternD = f32(256), f32(260), f32(264)
			h.QoffsetX, h.QoffsetY, h.QoffsetZ = f32(268), f32(272), f32(276)
			for i := 0; i < 4; i++ {
				h.SrowX[i], h.SrowY[i], h.SrowZ[i] = f32(280+4*i), f32(296+4*i), f32(312+4*i)
			}
			h.IntentName = cstr(b[328:344])
		}
	} else {
		magic := string(b[4:12])
		switch magic {
		case "n+2\x00\r\n\x1a\n":
			h.Format, h.Single = FormatNIfTI2, true
		case "ni2\x00\r\n\x1a\n":
			h.Format = FormatNIfTI2
		default:
			return nil, herr("magic", "%q is not a NIfTI-2 magic (n+2 or ni2 with \\r\\n\\032\\n)", magic)
		}
		h.Datatype = DataType(u16(12))
		h.Bitpix = u16(14)
		for i := 0; i < 8; i++ {
			h.Dim[i] = u64(16 + 8*i)
			h.Pixdim[i] = f64(104 + 8*i)
		}
		h.IntentP1, h.IntentP2, h.IntentP3 = f64(80), f64(88), f64(96)
		h.VoxOffset = u64(168)
		h.SclSlope, h.SclInter = f64(176), f64(184)
		h.CalMax, h.CalMin = f64(192), f64(200)
		h.SliceDuration, h.Toffset = f64(208), f64(216)
		h.SliceStart, h.SliceEnd = u64(224), u64(232)
		h.Descrip = cstr(b[240:320])
		h.AuxFile = cstr(b[320:344])
		h.QformCode, h.SformCode = u32(344), u32(348)
		h.QuaternB, h.QuaternC, h.QuaternD = f64(352), f64(360), f64(368)
		h.QoffsetX, h.QoffsetY, h.QoffsetZ = f64(376), f64(384), f64(392)
		for i := 0; i < 4; i++ {
			h.SrowX[i], h.SrowY[i], h.SrowZ[i] = f64(400+8*i), f64(432+8*i), f64(464+8*i)
		}
		h.SliceCode = uint8(u32(496))
		h.XYZTUnits = uint8(u32(500))
		h.IntentCode = u32(504)
		h.IntentName = cstr(b[508:524])
		h.DimInfo = b[524]
		if h.VoxOffset < 0 {
			return nil, herr("vox_offset", "%d is negative", h.VoxOffset)
		}
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	h.fix()
	return h, nil
}

// MaxDataBytes caps the voxel data size a header may ask for (16 GiB).
const MaxDataBytes = 16 << 30

// validate checks dims, datatype and sizes.
func (h *Header) validate() error {
	nd := h.Dim[0]
	if nd < 1 || nd > 7 {
		return herr("dim[0]", "%d, want 1..7", nd)
	}
	total := int64(1)
	for i := 1; i <= int(nd); i++ {
		d := h.Dim[i]
		if d < 1 {
			return herr(fmt.Sprintf("dim[%d]", i), "%d, want at least 1", d)
		}
		if d > MaxDataBytes || total > MaxDataBytes/d {
			return herr("dim", "%v: voxel count overflows the %d GiB limit", h.Dim[1:nd+1], MaxDataBytes>>30)
		}
		total *= d
	}
	info, ok := dtTable[h.Datatype]
	if !ok {
		return herr("datatype", "unknown code %d", int16(h.Datatype))
	}
	if total > MaxDataBytes/int64(info.size) || uint64(total)*uint64(info.size) > math.MaxInt {
		return herr("dim", "%v of %s is %d bytes, over the %d GiB limit", h.Dim[1:nd+1], info.name, total*int64(info.size), MaxDataBytes>>30)
	}
	for i := 1; i <= int(nd); i++ {
		p := h.Pixdim[i]
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return herr(fmt.Sprintf("pixdim[%d]", i), "%v is not finite", p)
		}
	}
	return nil
}

// validXform reports whether c is a known qform/sform code (nibabel accepts 0..4).
func validXform(c int32) bool { return c >= 0 && c <= 4 }

// fix applies nibabel's header fixes (see the package doc).
func (h *Header) fix() {
	for i := 1; i <= 3; i++ {
		if h.Pixdim[i] == 0 {
			h.Pixdim[i] = 1
		} else if h.Pixdim[i] < 0 {
			h.Pixdim[i] = -h.Pixdim[i]
		}
	}
	// Unused dims keep pixdim 1 so Spacing is meaningful when padded.
	if h.Format != FormatANALYZE {
		if h.Pixdim[0] != 1 && h.Pixdim[0] != -1 {
			h.Pixdim[0] = 1
		}
		if !validXform(h.QformCode) {
			h.QformCode = 0
		}
		if !validXform(h.SformCode) {
			h.SformCode = 0
		}
	}
	h.Bitpix = int16(8 * h.Datatype.Size())
}

// encode writes the header in NIfTI-1 or NIfTI-2 layout in byte order bo
// with the given vox_offset and single-file magic.
func (h *Header) encode(f Format, bo binary.ByteOrder, single bool, voxOffset int64) []byte {
	if f == FormatNIfTI2 {
		b := make([]byte, SizeofHdr2)
		bo.PutUint32(b[0:], SizeofHdr2)
		if single {
			copy(b[4:], "n+2\x00\r\n\x1a\n")
		} else {
			copy(b[4:], "ni2\x00\r\n\x1a\n")
		}
		p64 := func(o int, v float64) { bo.PutUint64(b[o:], math.Float64bits(v)) }
		i64 := func(o int, v int64) { bo.PutUint64(b[o:], uint64(v)) }
		bo.PutUint16(b[12:], uint16(h.Datatype))
		bo.PutUint16(b[14:], uint16(8*h.Datatype.Size()))
		for i := 0; i < 8; i++ {
			i64(16+8*i, h.Dim[i])
			p64(104+8*i, h.Pixdim[i])
		}
		p64(80, h.IntentP1)
		p64(88, h.IntentP2)
		p64(96, h.IntentP3)
		i64(168, voxOffset)
		p64(176, h.SclSlope)
		p64(184, h.SclInter)
		p64(192, h.CalMax)
		p64(200, h.CalMin)
		p64(208, h.SliceDuration)
		p64(216, h.Toffset)
		i64(224, h.SliceStart)
		i64(232, h.SliceEnd)
		copy(b[240:319], h.Descrip)
		copy(b[320:343], h.AuxFile)
		bo.PutUint32(b[344:], uint32(h.QformCode))
		bo.PutUint32(b[348:], uint32(h.SformCode))
		p64(352, h.QuaternB)
		p64(360, h.QuaternC)
		p64(368, h.QuaternD)
		p64(376, h.QoffsetX)
		p64(384, h.QoffsetY)
		p64(392, h.QoffsetZ)
		for i := 0; i < 4; i++ {
			p64(400+8*i, h.SrowX[i])
			p64(432+8*i, h.SrowY[i])
			p64(464+8*i, h.SrowZ[i])
		}
		bo.PutUint32(b[496:], uint32(h.SliceCode))
		bo.PutUint32(b[500:], uint32(h.XYZTUnits))
		bo.PutUint32(b[504:], uint32(h.IntentCode))
		copy(b[508:523], h.IntentName)
		b[524] = h.DimInfo
		return b
	}
	b := make([]byte, SizeofHdr1)
	p32 := func(o int, v float64) { bo.PutUint32(b[o:], math.Float32bits(float32(v))) }
	i16 := func(o int, v int64) { bo.PutUint16(b[o:], uint16(int16(v))) }
	bo.PutUint32(b[0:], SizeofHdr1)
	b[38] = 'r' // "regular", as nibabel writes
	b[39] = h.DimInfo
	for i := 0; i < 8; i++ {
		i16(40+2*i, h.Dim[i])
		p32(76+4*i, h.Pixdim[i])
	}
	p32(56, h.IntentP1)
	p32(60, h.IntentP2)
	p32(64, h.IntentP3)
	i16(68, int64(h.IntentCode))
	i16(70, int64(h.Datatype))
	i16(72, int64(8*h.Datatype.Size()))
	i16(74, h.SliceStart)
	p32(108, float64(voxOffset))
	p32(112, h.SclSlope)
	p32(116, h.SclInter)
	i16(120, h.SliceEnd)
	b[122] = h.SliceCode
	b[123] = h.XYZTUnits
	p32(124, h.CalMax)
	p32(128, h.CalMin)
	p32(132, h.SliceDuration)
	p32(136, h.Toffset)
	copy(b[148:227], h.Descrip)
	copy(b[228:251], h.AuxFile)
	i16(252, int64(h.QformCode))
	i16(254, int64(h.SformCode))
	p32(256, h.QuaternB)
	p32(260, h.QuaternC)
	p32(264, h.QuaternD)
	p32(268, h.QoffsetX)
	p32(272, h.QoffsetY)
	p32(276, h.QoffsetZ)
	for i := 0; i < 4; i++ {
		p32(280+4*i, h.SrowX[i])
		p32(296+4*i, h.SrowY[i])
		p32(312+4*i, h.SrowZ[i])
	}
	copy(b[328:343], h.IntentName)
	if single {
		copy(b[344:], "n+1\x00")
	} else {
		copy(b[344:], "ni1\x00")
	}
	return b
}

// parseExtensions decodes the extension list in b (the bytes after the
// header, starting with the 4-byte extender). Malformed trailing extensions
// are dropped, as nifti_clib does.
func parseExtensions(b []byte, bo binary.ByteOrder) []Extension {
	if len(b) < 4 || b[0] == 0 {
		return nil
	}
	b = b[4:]
	var exts []Extension
	for len(b) >= 8 {
		size := int64(int32(bo.Uint32(b)))
		code := int32(bo.Uint32(b[4:]))
		if size < 8 || size%16 != 0 || size > int64(len(b)) {
			break
		}
		exts = append(exts, Extension{Code: code, Data: append([]byte(nil), b[8:size]...)})
		b = b[size:]
	}
	return exts
}

// encodeExtensions returns the extender and extensions, each padded to a
// multiple of 16 bytes.
func encodeExtensions(exts []Extension, bo binary.ByteOrder) []byte {
	out := make([]byte, 4)
	if len(exts) == 0 {
		return out
	}
	out[0] = 1
	for _, e := range exts {
		size := (8 + len(e.Data) + 15) / 16 * 16
		var hb [8]byte
		bo.PutUint32(hb[:], uint32(size))
		bo.PutUint32(hb[4:], uint32(e.Code))
		out = append(out, hb[:]...)
		out = append(out, e.Data...)
		out = append(out, make([]byte, size-8-len(e.Data))...)
	}
	return out
}
