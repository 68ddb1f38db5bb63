package nifti

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// addSeeds adds the fixtures and small generated files to the corpus.
func addSeeds(f *testing.F) {
	f.Add(validFile(f, FormatNIfTI1))
	f.Add(validFile(f, FormatNIfTI2))
	f.Add(gz(validFile(f, FormatNIfTI1)))
	files, _ := filepath.Glob(filepath.Join("testdata", "fixtures", "*"))
	for _, p := range files {
		if filepath.Ext(p) == ".json" {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// exercise calls every derived-value method; none may panic.
func exercise(h *Header) {
	_ = h.Shape()
	_ = h.Spacing()
	_ = h.NumVoxels()
	_, _, _, _ = h.SlopeInter()
	_ = Orientation(h.Affine())
	_ = Orientation(h.QForm())
	_ = h.SForm()
	_ = h.BaseAffine()
	_, _ = h.SpatialUnit(), h.TimeUnit()
}

// FuzzReadHeader parses arbitrary bytes as a header (ANALYZE allowed).
func FuzzReadHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b, true)
		if err != nil {
			return
		}
		if h.NDim() < 1 || h.NDim() > 7 || !h.Datatype.Valid() {
			t.Fatalf("accepted header with dim[0]=%d datatype=%d", h.NDim(), h.Datatype)
		}
		if int64(h.NumVoxels())*int64(h.Datatype.Size()) > MaxDataBytes {
			t.Fatalf("accepted %d voxels", h.NumVoxels())
		}
		exercise(h)
	})
}

// FuzzRead decodes arbitrary bytes as a whole single-file image; what
// decodes must convert and survive an encode/decode round trip unchanged.
func FuzzRead(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode("fuzz.nii", b)
		if err != nil {
			return
		}
		exercise(&img.Header)
		want := int64(img.NumVoxels()) * int64(img.Datatype.Size())
		if int64(len(img.Bytes())) != want {
			t.Fatalf("%d data bytes, want %d", len(img.Bytes()), want)
		}
		_, errF := img.Float32()
		_, _ = img.Float64()
		var buf bytes.Buffer
		if err := Encode(&buf, img, len(b)%2 == 0, WriteOptions{}); err != nil {
			return // e.g. a header field NIfTI-1 cannot hold
		}
		img2, err := Decode("again.nii", buf.Bytes())
		if err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
		if !bytes.Equal(img.Bytes(), img2.Bytes()) || img.Datatype != img2.Datatype {
			t.Fatal("data changed in the round trip")
		}
		for i, s := range img.Shape() {
			if img2.Shape()[i] != s {
				t.Fatalf("shape %v became %v", img.Shape(), img2.Shape())
			}
		}
		if errF == nil {
			if _, err := img2.Float32(); err != nil {
				t.Fatalf("Float32 failed after round trip: %v", err)
			}
		}
		a, a2 := img.Affine(), img2.Affine()
		for i := 0; i < 3; i++ {
			for j := 0; j < 4; j++ {
				x, y := a[i][j], a2[i][j]
				if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e30 {
					return
				}
				// Stored as float32 in NIfTI-1.
				if math.Abs(x-y) > 1e-5*math.Max(1, math.Abs(x)) {
					t.Fatalf("affine %v became %v", a, a2)
				}
			}
		}
	})
}
