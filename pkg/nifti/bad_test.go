package nifti

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validFile returns a small valid single-file NIfTI (format 1 or 2).
func validFile(t testing.TB, format Format) []byte {
	t.Helper()
	img, err := New([]int{4, 3, 2}, []float64{1, 2, 3}, Affine{}, ramp(24, func(i int) int16 { return int16(i) }))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "v.nii")
	if err := WriteWith(path, img, WriteOptions{Format: format}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestBadInput(t *testing.T) {
	le := binary.LittleEndian
	mod := func(f func(b []byte) []byte) func(testing.TB) []byte {
		return func(t testing.TB) []byte { return f(validFile(t, FormatNIfTI1)) }
	}
	mod2 := func(f func(b []byte) []byte) func(testing.TB) []byte {
		return func(t testing.TB) []byte { return f(validFile(t, FormatNIfTI2)) }
	}
	tests := []struct {
		name  string
		file  func(testing.TB) []byte
		field string
	}{
		{"empty", func(testing.TB) []byte { return nil }, "sizeof_hdr"},
		{"short header", mod(func(b []byte) []byte { return b[:200] }), "sizeof_hdr"},
		{"sizeof_hdr", mod(func(b []byte) []byte { le.PutUint32(b, 349); return b }), "sizeof_hdr"},
		{"magic", mod(func(b []byte) []byte { copy(b[344:], "abc\x00"); return b }), "magic"},
		{"pair magic in .nii", mod(func(b []byte) []byte { copy(b[344:], "ni1\x00"); return b }), "magic"},
		{"magic nifti2", mod2(func(b []byte) []byte { b[9] = 0; return b }), "magic"},
		{"dim0 zero", mod(func(b []byte) []byte { le.PutUint16(b[40:], 0); return b }), "dim[0]"},
		{"dim0 eight", mod(func(b []byte) []byte { le.PutUint16(b[40:], 8); return b }), "dim[0]"},
		{"negative dim", mod(func(b []byte) []byte { le.PutUint16(b[44:], 0xfffe); return b }), "dim[2]"},
		{"zero dim", mod(func(b []byte) []byte { le.PutUint16(b[46:], 0); return b }), "dim[3]"},
		{"datatype", mod(func(b []byte) []byte { le.PutUint16(b[70:], 3); return b }), "datatype"},
		{"overflow dims", mod(func(b []byte) []byte {
			le.PutUint16(b[40:], 7)
			for i := 1; i <= 7; i++ {
				le.PutUint16(b[40+2*i:], 32767)
			}
			return b
		}), "dim"},
		{"absurd memory nifti2", mod2(func(b []byte) []byte {
			le.PutUint64(b[16+8:], 1<<20)
			le.PutUint64(b[16+16:], 1<<20)
			le.PutUint64(b[16+24:], 1<<10)
			return b
		}), "dim"},
		{"negative dim nifti2", mod2(func(b []byte) []byte { le.PutUint64(b[16+8:], uint64(1<<64-5)); return b }), "dim[1]"},
		{"vox_offset inside header", mod(func(b []byte) []byte { le.PutUint32(b[108:], math.Float32bits(100)); return b }), "vox_offset"},
		{"vox_offset beyond file", mod(func(b []byte) []byte { le.PutUint32(b[108:], math.Float32bits(1e6)); return b }), "vox_offset"},
		{"vox_offset NaN", mod(func(b []byte) []byte { le.PutUint32(b[108:], math.Float32bits(float32(math.NaN()))); return b }), "vox_offset"},
		{"negative vox_offset nifti2", mod2(func(b []byte) []byte { le.PutUint64(b[168:], uint64(1<<64-16)); return b }), "vox_offset"},
		{"pixdim NaN", mod(func(b []byte) []byte { le.PutUint32(b[80:], math.Float32bits(float32(math.NaN()))); return b }), "pixdim[1]"},
		{"truncated data", mod(func(b []byte) []byte { return b[:len(b)-3] }), "data"},
		{"truncated data nifti2", mod2(func(b []byte) []byte { return b[:len(b)-1] }), "data"},
		{"gzip truncated", mod(func(b []byte) []byte { g := gz(b); return g[:len(g)-12] }), "truncated"},
		{"gzip truncated in data", mod(func(b []byte) []byte { g := gz(b); return g[:len(g)/2+20] }), "truncated"},
		{"gzip truncated in header", mod(func(b []byte) []byte { g := gz(b); return g[:15] }), "sizeof_hdr"},
		{"gzip bad crc", mod(func(b []byte) []byte { g := gz(b); g[len(g)-6] ^= 0xff; return g }), "gzip"},
		{"gzip bad header", mod(func(b []byte) []byte { g := gz(b); g[2] = 7; return g }), "gzip"},
		{"gzip claims absurd data", mod(func(b []byte) []byte {
			le.PutUint16(b[42:], 30000)
			le.PutUint16(b[44:], 30000)
			le.PutUint16(b[46:], 2)
			return gz(b)
		}), "data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.nii")
			if strings.HasPrefix(tc.name, "gzip") {
				path += ".gz"
			}
			if err := os.WriteFile(path, tc.file(t), 0o644); err != nil {
				t.Fatal(err)
			}
			img, err := Read(path)
			if err == nil {
				t.Fatalf("no error, read shape %v", img.Shape())
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tc.field) {
				t.Errorf("error %q does not name the file and %q", msg, tc.field)
			}
			if _, err := ReadHeader(path); err == nil && tc.field != "data" && tc.field != "truncated" && tc.field != "gzip" {
				t.Errorf("ReadHeader accepted a file with a bad %s", tc.field)
			}
			// The in-memory decoder must agree.
			b, _ := os.ReadFile(path)
			if _, err := Decode("mem.nii", b); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Decode: error %v, want one naming %q", err, tc.field)
			}
		})
	}
}

func TestBadPairsAndPaths(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(filepath.Join(dir, "missing.nii.gz")); err == nil || !strings.Contains(err.Error(), "missing.nii.gz") {
		t.Errorf("missing file: %v", err)
	}
	// A header without its image.
	b := validFile(t, FormatNIfTI1)
	copy(b[344:], "ni1\x00")
	le := binary.LittleEndian
	le.PutUint32(b[108:], 0)
	os.WriteFile(filepath.Join(dir, "a.hdr"), b[:348], 0o644)
	if _, err := Read(filepath.Join(dir, "a.hdr")); err == nil || !strings.Contains(err.Error(), ".img") {
		t.Errorf("missing .img: %v", err)
	}
	// Image too short for the header's dims.
	os.WriteFile(filepath.Join(dir, "a.img"), b[352:352+40], 0o644)
	if _, err := Read(filepath.Join(dir, "a.img")); err == nil || !strings.Contains(err.Error(), "data") || !strings.Contains(err.Error(), "a.img") {
		t.Errorf("short .img: %v", err)
	}
	// The full image reads, via either name.
	os.WriteFile(filepath.Join(dir, "a.img"), b[352:], 0o644)
	for _, p := range []string{"a.img", "a.hdr"} {
		img, err := Read(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := img.Int16()
		if v[23] != 23 {
			t.Errorf("%s: last value %d", p, v[23])
		}
	}
	// NaN intercept with a valid slope is an error naming scl_inter.
	b = validFile(t, FormatNIfTI1)
	le.PutUint32(b[112:], math.Float32bits(2))
	le.PutUint32(b[116:], math.Float32bits(float32(math.Inf(1))))
	img, err := Decode("inter.nii", b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.Float32(); err == nil || !strings.Contains(err.Error(), "scl_inter") || !strings.Contains(err.Error(), "inter.nii") {
		t.Errorf("bad intercept: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		shape   []int
		spacing []float64
		affine  Affine
		data    any
	}{
		{"length", []int{2, 2, 2}, nil, Affine{}, make([]float32, 7)},
		{"type", []int{2}, nil, Affine{}, []string{"a", "b"}},
		{"zero dim", []int{2, 0, 2}, nil, Affine{}, []uint8{}},
		{"eight dims", []int{1, 1, 1, 1, 1, 1, 1, 1}, nil, Affine{}, []uint8{1}},
		{"bad spacing", []int{2}, []float64{-1}, Affine{}, []uint8{1, 2}},
		{"spacing vs affine", []int{2, 1, 1}, []float64{2, 1, 1}, Identity, []uint8{1, 2}},
		{"NaN affine", []int{2, 1, 1}, nil, Affine{{math.NaN(), 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, []uint8{1, 2}},
		{"singular affine", []int{2, 1, 1}, nil, Affine{{1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, []uint8{1, 2}},
	}
	for _, tc := range tests {
		if _, err := New(tc.shape, tc.spacing, tc.affine, tc.data); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	img, _ := New([]int{2}, nil, Affine{}, []uint8{1, 2})
	if err := Write(filepath.Join(t.TempDir(), "x.img"), img); err == nil {
		t.Error("Write to .img: no error")
	}
	if err := Write(filepath.Join(t.TempDir(), "nodir", "x.nii"), img); err == nil {
		t.Error("Write into a missing directory: no error")
	}
}
