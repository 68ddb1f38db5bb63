package nifti

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ramp fills a slice of T with i%mod + off.
func ramp[T Number](n int, f func(i int) T) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = f(i)
	}
	return s
}

func testAffine() Affine {
	// A rotation about z by 30 degrees, spacing (1.5, 2, 3), offset.
	c, s := math.Cos(math.Pi/6), math.Sin(math.Pi/6)
	return Affine{
		{c * 1.5, -s * 2, 0, -10},
		{s * 1.5, c * 2, 0, 20.5},
		{0, 0, 3, 7},
		{0, 0, 0, 1},
	}
}

func closeAff(a, b Affine, tol float64) bool {
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			if math.Abs(a[i][j]-b[i][j]) > tol {
				return false
			}
		}
	}
	return true
}

func TestRoundTripAllTypes(t *testing.T) {
	shapes := [][]int{{5, 4, 3}, {3, 4, 2, 2}, {2, 3, 2, 2, 2}, {2, 1, 2, 1, 2, 1, 3}}
	for _, shape := range shapes {
		n := 1
		for _, s := range shape {
			n *= s
		}
		cases := []struct {
			name string
			data any
		}{
			{"uint8", ramp(n, func(i int) uint8 { return uint8(i * 7) })},
			{"int8", ramp(n, func(i int) int8 { return int8(i*7 - 100) })},
			{"int16", ramp(n, func(i int) int16 { return int16(i*300 - 9000) })},
			{"uint16", ramp(n, func(i int) uint16 { return uint16(i * 900) })},
			{"int32", ramp(n, func(i int) int32 { return int32(i*100000 - 7) })},
			{"uint32", ramp(n, func(i int) uint32 { return uint32(i) * 40000000 })},
			{"int64", ramp(n, func(i int) int64 { return int64(i)*1e12 - 5 })},
			{"uint64", ramp(n, func(i int) uint64 { return uint64(i) * 1e15 })},
			{"float32", ramp(n, func(i int) float32 { return float32(i)*0.25 - 3 })},
			{"float64", ramp(n, func(i int) float64 { return float64(i)*1e-3 - 1e5 })},
			{"complex64", ramp(n, func(i int) complex64 { return complex(float32(i), -float32(i)/3) })},
			{"complex128", ramp(n, func(i int) complex128 { return complex(float64(i)/7, 1e10) })},
		}
		for _, tc := range cases {
			for _, ext := range []string{".nii", ".nii.gz"} {
				for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
					name := fmt.Sprintf("%s_%dd_%v%s", tc.name, len(shape), bo, ext)
					t.Run(name, func(t *testing.T) {
						sp := []float64{1.5, 2, 3}
						img, err := New(shape, sp, testAffine(), tc.data)
						if err != nil {
							t.Fatal(err)
						}
						want := append([]byte(nil), img.Bytes()...)
						path := filepath.Join(t.TempDir(), "x"+ext)
						if err := WriteWith(path, img, WriteOptions{ByteOrder: bo}); err != nil {
							t.Fatal(err)
						}
						got, err := Read(path)
						if err != nil {
							t.Fatal(err)
						}
						if got.ByteOrder != bo {
							t.Fatalf("byte order %v, wrote %v", got.ByteOrder, bo)
						}
						if fmt.Sprint(got.Shape()) != fmt.Sprint(shape) {
							t.Fatalf("shape %v, want %v", got.Shape(), shape)
						}
						if got.Datatype.String() != tc.name {
							t.Fatalf("datatype %s, want %s", got.Datatype, tc.name)
						}
						if !bytes.Equal(got.Bytes(), want) {
							t.Fatal("data differs after round trip")
						}
						if !closeAff(got.Affine(), testAffine(), 1e-5) {
							t.Fatalf("affine %v, want %v", got.Affine(), testAffine())
						}
						if !closeAff(got.QForm(), testAffine(), 1e-5) {
							t.Fatalf("qform %v, want %v", got.QForm(), testAffine())
						}
						sp2 := got.Spacing()
						for i := range sp {
							if math.Abs(sp2[i]-sp[i]) > 1e-6 {
								t.Fatalf("spacing %v, want %v", sp2, sp)
							}
						}
					})
				}
			}
		}
	}
}

func TestFloat32Scaling(t *testing.T) {
	img, err := New([]int{4, 1, 1}, nil, Affine{}, []int16{-2, 0, 3, 100})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		slope, inter float64
		want         []float32
	}{
		{2, 1, []float32{-3, 1, 7, 201}},
		{0, 5, []float32{-2, 0, 3, 100}},           // slope 0: no scaling
		{math.NaN(), 5, []float32{-2, 0, 3, 100}},  // NaN slope: no scaling
		{math.Inf(1), 5, []float32{-2, 0, 3, 100}}, // Inf slope: no scaling
		{0.5, -1, []float32{-2, -1, 0.5, 49}},
	}
	for _, tc := range tests {
		img.SclSlope, img.SclInter = tc.slope, tc.inter
		got, err := img.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("slope %v inter %v: got %v want %v", tc.slope, tc.inter, got, tc.want)
		}
	}
	img.SclSlope, img.SclInter = 2, math.NaN()
	if _, err := img.Float32(); err == nil || !strings.Contains(err.Error(), "scl_inter") {
		t.Errorf("NaN intercept with valid slope: err %v, want scl_inter error", err)
	}
}

func TestBigEndianRead(t *testing.T) {
	// Build a big-endian NIfTI-1 file by hand: int16 2x2x1, qform only.
	h := make([]byte, 352)
	be := binary.BigEndian
	be.PutUint32(h[0:], 348)
	dims := []int16{3, 2, 2, 1, 1, 1, 1, 1}
	for i, d := range dims {
		be.PutUint16(h[40+2*i:], uint16(d))
	}
	be.PutUint16(h[70:], uint16(DTInt16))
	be.PutUint16(h[72:], 16)
	pix := []float32{-1, 2, 3, 4, 1, 1, 1, 1}
	for i, p := range pix {
		be.PutUint32(h[76+4*i:], math.Float32bits(p))
	}
	be.PutUint32(h[108:], math.Float32bits(352))
	be.PutUint32(h[112:], math.Float32bits(2))
	be.PutUint32(h[116:], math.Float32bits(10))
	be.PutUint16(h[252:], 1)
	be.PutUint32(h[268:], math.Float32bits(5))
	copy(h[344:], "n+1\x00")
	data := []int16{1, -2, 300, -400}
	for _, v := range data {
		h = be.AppendUint16(h, uint16(v))
	}
	img, err := Decode("be.nii", h)
	if err != nil {
		t.Fatal(err)
	}
	if img.ByteOrder != binary.BigEndian {
		t.Errorf("byte order %v", img.ByteOrder)
	}
	raw, err := img.Int16()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(raw) != fmt.Sprint(data) {
		t.Errorf("raw %v want %v", raw, data)
	}
	f, _ := img.Float32()
	if fmt.Sprint(f) != "[12 6 610 -790]" {
		t.Errorf("scaled %v", f)
	}
	want := Affine{{2, 0, 0, 5}, {0, 3, 0, 0}, {0, 0, -4, 0}, {0, 0, 0, 1}}
	if img.Affine() != want {
		t.Errorf("affine %v want %v", img.Affine(), want)
	}
	if o := img.Orientation(); o != "RAI" {
		t.Errorf("orientation %s", o)
	}
}

// TestRealData reads every image and label of the shared data sets.
func TestRealData(t *testing.T) {
	root := filepath.Join("..", "..", "..", "shared", "data")
	if d := os.Getenv("MSD_DATA"); d != "" {
		root = d
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "*Tr"))
	var files []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.nii.gz"))
		if testing.Short() { // a sample of each folder
			m = m[:min(len(m), 2)]
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no real data under", root)
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "._") {
			continue
		}
		img, err := Read(f)
		if err != nil {
			t.Error(err)
			continue
		}
		d, err := img.Float32()
		if err != nil {
			t.Error(err)
			continue
		}
		if h, err := ReadHeader(f); err != nil || h.Shape()[0] != img.Shape()[0] || h.Affine() != img.Affine() {
			t.Errorf("%s: ReadHeader disagrees with Read: %v", f, err)
		}
		if len(d) != img.NumVoxels() || img.NDim() < 3 {
			t.Errorf("%s: %d values for shape %v", f, len(d), img.Shape())
		}
		a := img.Affine()
		det := a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) - a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) + a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
		if math.Abs(det) < 1e-3 || math.IsNaN(det) || a[3] != [4]float64{0, 0, 0, 1} {
			t.Errorf("%s: degenerate affine %v", f, a)
		}
		for _, s := range img.Spacing()[:3] {
			if !(s > 0.1 && s < 10) {
				t.Errorf("%s: spacing %v", f, img.Spacing())
			}
		}
		if o := Orientation(a); strings.Contains(o, "?") {
			t.Errorf("%s: orientation %s", f, o)
		}
		if strings.Contains(f, "labelsTr") {
			for _, v := range d {
				if v != float32(int(v)) || v < 0 || v > 10 {
					t.Errorf("%s: label value %v", f, v)
					break
				}
			}
		}
	}
}

func TestRGB24AndExtensions(t *testing.T) {
	rgb := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	img, err := NewRaw([]int{2, 2, 1}, nil, Affine{}, DTRGB24, rgb)
	if err != nil {
		t.Fatal(err)
	}
	img.Extensions = []Extension{{Code: 6, Data: []byte("a comment")}, {Code: 4, Data: bytes.Repeat([]byte{7}, 40)}}
	img.Descrip = "rgb test"
	path := filepath.Join(t.TempDir(), "rgb.nii.gz")
	if err := WriteWith(path, img, WriteOptions{ByteOrder: binary.BigEndian}); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := got.RGB24()
	if err != nil || !bytes.Equal(b, rgb) {
		t.Fatalf("rgb %v %v", b, err)
	}
	if got.Descrip != "rgb test" || len(got.Extensions) != 2 || got.Extensions[0].Code != 6 ||
		!bytes.HasPrefix(got.Extensions[0].Data, []byte("a comment")) || len(got.Extensions[1].Data) != 40 {
		t.Fatalf("descrip %q extensions %+v", got.Descrip, got.Extensions)
	}
	if h, err := ReadHeader(path); err != nil || len(h.Extensions) != 2 || h.Extensions[1].Code != 4 {
		t.Errorf("ReadHeader extensions: %v %+v", err, h)
	}
	if got.VoxOffset != 348+4+32+48 {
		t.Errorf("vox_offset %d", got.VoxOffset)
	}
	if _, err := got.Float32(); err == nil {
		t.Error("Float32 of RGB24: no error")
	}
	if _, err := got.Int16(); err == nil {
		t.Error("Int16 of RGB24: no error")
	}
}

func TestNIfTI2Choice(t *testing.T) {
	dir := t.TempDir()
	img, err := New([]int{40000, 1, 1}, nil, Affine{}, make([]uint8, 40000))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "wide.nii")
	if err := Write(p, img); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Format != FormatNIfTI2 || got.Shape()[0] != 40000 {
		t.Errorf("format %v shape %v, want NIfTI-2 40000", got.Format, got.Shape())
	}
	small, _ := New([]int{2, 2, 2}, nil, Affine{}, make([]uint8, 8))
	for _, f := range []Format{0, FormatNIfTI2} {
		p := filepath.Join(dir, fmt.Sprintf("s%d.nii", f))
		if err := WriteWith(p, small, WriteOptions{Format: f}); err != nil {
			t.Fatal(err)
		}
		got, err := ReadHeader(p)
		if err != nil {
			t.Fatal(err)
		}
		want := FormatNIfTI1
		if f == FormatNIfTI2 {
			want = FormatNIfTI2
		}
		if got.Format != want {
			t.Errorf("forced %v: wrote %v", f, got.Format)
		}
	}
}

func TestOrientation(t *testing.T) {
	tests := []struct {
		a    Affine
		want string
	}{
		{Identity, "RAS"},
		{Affine{{-1, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, "LPS"},
		{Affine{{-2, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 1}}, "LAS"},
		{Affine{{0, 0, 1, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 1}}, "ASR"},
		{Affine{{0, 0, -3, 0}, {0, -1, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 1}}, "SPL"},
		{Affine{{1, 0.1, 0, 0}, {-0.1, 1, 0, 0}, {0, 0, -1, 0}, {0, 0, 0, 1}}, "RAI"}, // small rotation
		{Affine{{0.7, 0.72, 0, 0}, {-0.72, 0.7, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, "PRS"},
		{Affine{{1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, "R?S"}, // dropped axis
	}
	for _, tc := range tests {
		if got := Orientation(tc.a); got != tc.want {
			t.Errorf("Orientation(%v) = %s, want %s", tc.a, got, tc.want)
		}
	}
}
