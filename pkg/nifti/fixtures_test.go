package nifti

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// expected is what nibabel read from one fixture (testdata/make_fixtures.py).
type expected struct {
	Class     string        `json:"class"`
	Shape     []int         `json:"shape"`
	Dtype     any           `json:"dtype"`
	Zooms     []float64     `json:"zooms"`
	Affine    [][]float64   `json:"affine"`
	Axcodes   string        `json:"axcodes"`
	Endian    string        `json:"endian"`
	QformCode *int32        `json:"qform_code"`
	SformCode *int32        `json:"sform_code"`
	Qform     [][]float64   `json:"qform"`
	Sform     [][]float64   `json:"sform"`
	Slope     *float64      `json:"slope"`
	Inter     *float64      `json:"inter"`
	Units     []string      `json:"units"`
	Raw       []json.Number `json:"raw"`
	Fdata     []float64     `json:"fdata"`
}

func loadExpected(t *testing.T) map[string]expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]expected
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 10 {
		t.Fatalf("only %d fixtures in expected.json", len(m))
	}
	return m
}

func checkAffine(t *testing.T, what string, got Affine, want [][]float64, tol float64) {
	t.Helper()
	if len(want) != 4 {
		t.Fatalf("%s: expected affine has %d rows", what, len(want))
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			if math.Abs(got[i][j]-want[i][j]) > tol {
				t.Fatalf("%s: [%d][%d]=%v, nibabel %v\n got  %v\n want %v", what, i, j, got[i][j], want[i][j], got, want)
			}
		}
	}
}

// rawValues returns the stored (unscaled) values as float64.
func rawValues(t *testing.T, img *Image) []float64 {
	t.Helper()
	if img.Datatype == DTRGB24 {
		b, err := img.RGB24()
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, len(b))
		for i, v := range b {
			out[i] = float64(v)
		}
		return out
	}
	out := make([]float64, img.NumVoxels())
	slope, inter := img.SclSlope, img.SclInter
	img.SclSlope = 0 // unscaled view
	defer func() { img.SclSlope, img.SclInter = slope, inter }()
	f := img.Header.Format
	img.Header.Format = FormatNIfTI1 // ANALYZE scaling off too
	defer func() { img.Header.Format = f }()
	if err := img.convert64(out, 1, 0); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNibabelFixtures compares every fixture with nibabel's reading of it,
// value by value and affine by affine.
func TestNibabelFixtures(t *testing.T) {
	for name, e := range loadExpected(t) {
		t.Run(name, func(t *testing.T) {
			img, err := Read(filepath.Join("testdata", "fixtures", name))
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Shape(); len(got) != len(e.Shape) {
				t.Fatalf("shape %v, nibabel %v", got, e.Shape)
			} else {
				for i := range got {
					if got[i] != e.Shape[i] {
						t.Fatalf("shape %v, nibabel %v", got, e.Shape)
					}
				}
			}
			wantDT, _ := e.Dtype.(string)
			if _, ok := e.Dtype.([]any); ok || strings.HasPrefix(wantDT, "[") {
				wantDT = "rgb24"
			}
			if img.Datatype.String() != wantDT {
				t.Errorf("datatype %s, nibabel %v", img.Datatype, e.Dtype)
			}
			wantBO := binary.ByteOrder(binary.LittleEndian)
			if e.Endian == ">" {
				wantBO = binary.BigEndian
			}
			if img.ByteOrder != wantBO {
				t.Errorf("byte order %v, nibabel %s", img.ByteOrder, e.Endian)
			}
			sp := img.Spacing()
			if len(sp) != len(e.Zooms) {
				t.Errorf("spacing %v, nibabel zooms %v", sp, e.Zooms)
			}
			for i := range e.Zooms {
				if i < len(sp) && math.Abs(sp[i]-e.Zooms[i]) > 1e-6 {
					t.Errorf("spacing %v, nibabel zooms %v", sp, e.Zooms)
				}
			}
			checkAffine(t, "affine", img.Affine(), e.Affine, 1e-5)
			if e.Qform != nil {
				checkAffine(t, "qform", img.QForm(), e.Qform, 1e-5)
				checkAffine(t, "sform", img.SForm(), e.Sform, 1e-5)
				if img.QformCode != *e.QformCode || img.SformCode != *e.SformCode {
					t.Errorf("codes q=%d s=%d, nibabel q=%d s=%d", img.QformCode, img.SformCode, *e.QformCode, *e.SformCode)
				}
			}
			if e.Units != nil {
				names := map[string]string{"meter": "m", "micron": "um", "sec": "s", "msec": "ms", "usec": "us", "hz": "Hz", "rads": "rad/s"}
				want := []string{e.Units[0], e.Units[1]}
				for i, u := range want {
					if n, ok := names[u]; ok {
						want[i] = n
					}
				}
				if img.SpatialUnit() != want[0] || img.TimeUnit() != want[1] {
					t.Errorf("units %s %s, nibabel %v", img.SpatialUnit(), img.TimeUnit(), e.Units)
				}
			}
			if o := Orientation(img.Affine()); o != e.Axcodes {
				t.Errorf("orientation %s, nibabel %s", o, e.Axcodes)
			}
			slope, inter, ok, err := img.SlopeInter()
			if err != nil {
				t.Fatal(err)
			}
			if e.Slope == nil {
				if ok && (slope != 1 || inter != 0) {
					t.Errorf("scaling %v %v, nibabel none", slope, inter)
				}
			} else if !ok || math.Abs(slope-*e.Slope) > 1e-7 || math.Abs(inter-*e.Inter) > 1e-7 {
				t.Errorf("scaling %v %v (%v), nibabel %v %v", slope, inter, ok, *e.Slope, *e.Inter)
			}
			raw := rawValues(t, img)
			if len(raw) != len(e.Raw) {
				t.Fatalf("%d stored values, nibabel %d", len(raw), len(e.Raw))
			}
			for i, n := range e.Raw {
				w, err := n.Float64()
				if err != nil {
					t.Fatal(err)
				}
				if raw[i] != w {
					t.Fatalf("stored value %d: %v, nibabel %v", i, raw[i], w)
				}
			}
			if img.Datatype == DTRGB24 {
				if _, err := img.Float32(); err == nil {
					t.Error("Float32 of rgb24 gave no error")
				}
				return
			}
			fdata := e.Fdata
			if fdata == nil {
				fdata = make([]float64, len(e.Raw))
				for i, n := range e.Raw {
					fdata[i], _ = n.Float64()
				}
			}
			f64, err := img.Float64()
			if err != nil {
				t.Fatal(err)
			}
			f32, err := img.Float32()
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range fdata {
				if f64[i] != w && math.Abs(f64[i]-w) > 1e-9*math.Abs(w) {
					t.Fatalf("Float64 value %d: %v, nibabel %v", i, f64[i], w)
				}
				if f32[i] != float32(w) {
					t.Fatalf("Float32 value %d: %v, nibabel %v", i, f32[i], float32(w))
				}
			}
		})
	}
}

// TestSetQFormMatchesNibabel checks the quaternion, qfac and zooms stored for
// an affine against nibabel's set_qform (testdata/fixtures/set_qform.json).
func TestSetQFormMatchesNibabel(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", "set_qform.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Affine  [][]float64 `json:"affine"`
		Quatern []float64   `json:"quatern"`
		Qfac    float64     `json:"qfac"`
		Zooms   []float64   `json:"zooms"`
		Qform   [][]float64 `json:"qform"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 5 {
		t.Fatalf("%d cases", len(cases))
	}
	for i, c := range cases {
		var a Affine
		for r := 0; r < 4; r++ {
			copy(a[r][:], c.Affine[r])
		}
		h := Header{Format: FormatNIfTI2}
		if err := h.SetQForm(a, 1); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got := []float64{h.QuaternB, h.QuaternC, h.QuaternD, h.Pixdim[0], h.Pixdim[1], h.Pixdim[2], h.Pixdim[3]}
		want := append(append(append([]float64{}, c.Quatern...), c.Qfac), c.Zooms...)
		for k := range want {
			if math.Abs(got[k]-want[k]) > 1e-9 {
				t.Errorf("case %d (%v): quatern/qfac/zooms %v, nibabel %v", i, a, got, want)
				break
			}
		}
		checkAffine(t, fmt.Sprintf("case %d qform", i), h.QForm(), c.Qform, 1e-9)
	}
}
