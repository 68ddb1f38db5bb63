package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	v := obliqueVolume()
	v.Channels = 2
	v.Data = make([]float32, 2*v.NumVoxels())
	for i := range v.Data {
		v.Data[i] = float32(i % 200)
	}
	for _, dt := range []DType{Uint8, Int16, Int32, Float32} {
		p := filepath.Join(dir, "v_"+string(dt)+".nii.gz")
		if err := Write(p, v, dt); err != nil {
			t.Fatal(err)
		}
		w, err := Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if w.Shape != v.Shape || w.Channels != 2 {
			t.Fatalf("%s: shape %v channels %d", dt, w.Shape, w.Channels)
		}
		if err := SameGeometry(v, w, 1e-5); err != nil {
			t.Errorf("%s: %v", dt, err)
		}
		if d := w.Spacing[0] - v.Spacing[0]; d > 1e-6 || d < -1e-6 {
			t.Errorf("%s: spacing %v", dt, w.Spacing)
		}
		for i := range v.Data {
			if w.Data[i] != v.Data[i] {
				t.Fatalf("%s: voxel %d %g want %g", dt, i, w.Data[i], v.Data[i])
			}
		}
	}
	bad := v.Clone()
	bad.Data[3] = 300
	if err := Write(filepath.Join(dir, "bad.nii"), bad, Uint8); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("out-of-range uint8 write: %v", err)
	}
	if err := Write(filepath.Join(dir, "bad.nii"), v, "float16"); err == nil {
		t.Error("unknown dtype accepted")
	}
	trunc := filepath.Join(dir, "trunc.nii")
	if err := Write(trunc, v, Float32); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(trunc)
	os.WriteFile(trunc, b[:len(b)/2], 0o644)
	if _, err := Read(trunc); err == nil || !strings.Contains(err.Error(), "trunc.nii") {
		t.Errorf("truncated file: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing.nii.gz")); err == nil {
		t.Error("missing file read")
	}
}

// realData is the shared MSD data folder, or "" when absent.
func realData(t *testing.T, task string) string {
	p := filepath.Join("..", "..", "..", "shared", "data", task)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no real data at %s", p)
	}
	return p
}

func TestRealHippocampus(t *testing.T) {
	dir := realData(t, "Task04_Hippocampus")
	img, err := Read(filepath.Join(dir, "imagesTr", "hippocampus_001.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	lbl, err := Read(filepath.Join(dir, "labelsTr", "hippocampus_001.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	steps := Steps{Orientation: "RAS", CropNonzero: true, Norm: []Norm{{Scheme: SchemeZScore}}, TargetSpacing: [3]float64{1, 1, 1}}
	pi, pl, rec, err := Prepare(img, lbl, steps)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("orientation %s shape %v spacing %v -> %v, crop %+v", rec.Reorientation.From, img.Shape, img.Spacing, pi.Shape, rec.Crop)
	back, err := rec.ToOriginal(pl)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range back.Data {
		if back.Data[i] == lbl.Data[i] {
			same++
		}
	}
	if frac := float64(same) / float64(len(lbl.Data)); frac < 0.97 {
		t.Errorf("round trip agreement %.3f", frac)
	}
}

func TestRealLeftAtriumResampleRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("large volume")
	}
	dir := realData(t, "LA2018_LeftAtrium")
	img, err := Read(filepath.Join(dir, "imagesTr", "la2018_000.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	lbl, err := Read(filepath.Join(dir, "labelsTr", "la2018_000.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	steps := Steps{Orientation: "RAS", CropNonzero: true, Norm: []Norm{{Scheme: SchemeZScore, UseMask: true}}, TargetSpacing: [3]float64{1, 1, 1.1}}
	pi, pl, rec, err := Prepare(img, lbl, steps)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v at %v -> %v at %v, crop %+v", img.Shape, img.Spacing, pi.Shape, pi.Spacing, rec.Crop)
	back, err := rec.ToOriginal(pl)
	if err != nil {
		t.Fatal(err)
	}
	inter, a, b := 0, 0, 0
	for i := range lbl.Data {
		x, y := lbl.Data[i] > 0, back.Data[i] > 0
		if x {
			a++
		}
		if y {
			b++
		}
		if x && y {
			inter++
		}
	}
	dice := 2 * float64(inter) / float64(a+b)
	t.Logf("left atrium Dice after 0.625 -> 1 mm -> 0.625 mm: %.4f", dice)
	if dice < 0.95 {
		t.Errorf("round trip Dice %.4f", dice)
	}
}
