package fingerprint

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {50, 3}, {100, 5}, {25, 2}, {10, 1.4}, {99.5, 4.98}} {
		if got := Percentile(v, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Percentile(%g)=%g want %g", tc.q, got, tc.want)
		}
	}
	s := StatsOf([]float32{4, 2, 6, 8})
	if s.N != 4 || s.Mean != 5 || s.Min != 2 || s.Max != 8 || s.Median != 5 || math.Abs(s.Std-math.Sqrt(5)) > 1e-12 {
		t.Errorf("StatsOf = %+v", s)
	}
}

// writeCase writes a synthetic case: image = 100 + x inside a zero border of 2
// voxels, label 1 on x < 5 and 2 on x >= 5 inside a central box.
func writeCase(t *testing.T, dir, id string, shape [3]int, spacing [3]float64, lps bool) Case {
	img := volume.New(shape, 1, spacing)
	lbl := volume.New(shape, 1, spacing)
	if lps {
		for _, v := range []*volume.Volume{img, lbl} {
			v.Affine[0][0], v.Affine[1][1] = -spacing[0], -spacing[1]
		}
	}
	for z := 2; z < shape[2]-2; z++ {
		for y := 2; y < shape[1]-2; y++ {
			for x := 2; x < shape[0]-2; x++ {
				img.Data[img.Index(x, y, z)] = float32(100 + x)
				if z >= 3 && z < 5 && y >= 3 && y < 5 && x >= 3 && x < 7 {
					lbl.Data[lbl.Index(x, y, z)] = map[bool]float32{true: 1, false: 2}[x < 5]
				}
			}
		}
	}
	c := Case{ID: id, Image: filepath.Join(dir, id+"_img.nii.gz"), Label: filepath.Join(dir, id+"_lbl.nii.gz")}
	if err := volume.Write(c.Image, img, volume.Float32); err != nil {
		t.Fatal(err)
	}
	if err := volume.Write(c.Label, lbl, volume.Uint8); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestComputeSynthetic(t *testing.T) {
	dir := t.TempDir()
	in := Input{Name: "Synth", Modalities: []string{"MRI"}, Cases: []Case{
		writeCase(t, dir, "a", [3]int{10, 8, 7}, [3]float64{1, 1, 2}, false),
		writeCase(t, dir, "b", [3]int{12, 9, 8}, [3]float64{0.5, 0.5, 2}, true),
		writeCase(t, dir, "c", [3]int{10, 10, 10}, [3]float64{1, 1, 3}, false),
	}}
	f, err := Compute(in, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) != 3 || f.Cases[1].Orientation != "LPS" || f.Cases[0].Orientation != "RAS" {
		t.Fatalf("cases %+v", f.Cases)
	}
	if got := f.Cases[0]; got.ShapeBeforeCrop != [3]int{10, 8, 7} || got.ShapeAfterCrop != [3]int{6, 4, 3} || got.Spacing != [3]float64{1, 1, 2} {
		t.Errorf("case a geometry %+v", got)
	}
	if got := f.Cases[0].LabelVoxels; got[1] != 8 || got[2] != 8 {
		t.Errorf("label voxels %v", got)
	}
	if got := f.Cases[1].LabelVolumes; got[1] != 8*0.5*0.5*2 {
		t.Errorf("label volumes %v", got)
	}
	if len(f.LabelValues) != 3 || f.LabelValues[2] != 2 {
		t.Errorf("label values %v", f.LabelValues)
	}
	// Case a foreground: x = 3..6 on 4 (y,z) positions: values 103..106.
	if s := f.Cases[0].ForegroundPerChannel[0]; s.N != 16 || s.Mean != 104.5 || s.Min != 103 || s.Max != 106 {
		t.Errorf("case a stats %+v", s)
	}
	// Case b is LPS: after reorientation x is mirrored, so label 1 has x >= ... but the
	// intensities are the same set: 103..106.
	if s := f.Cases[1].ForegroundPerChannel[0]; s.Mean != 104.5 {
		t.Errorf("case b stats %+v", s)
	}
	if s := f.ForegroundPerChannel[0]; s.N != 48 || s.Mean != 104.5 || s.P005 < 103 || s.P995 > 106 {
		t.Errorf("pooled stats %+v", s)
	}
	p := filepath.Join(dir, "fp.json")
	if err := f.Save(p); err != nil {
		t.Fatal(err)
	}
	g, err := Load(p)
	if err != nil || g.Cases[2].Spacing != f.Cases[2].Spacing {
		t.Fatalf("load: %v", err)
	}
	// A broken case names the file.
	os.WriteFile(in.Cases[2].Label, []byte("junk"), 0o644)
	if _, err := Compute(in, Options{}); err == nil || !strings.Contains(err.Error(), "c_lbl") {
		t.Errorf("corrupt label: %v", err)
	}
}

func TestRealHippocampus(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 220 cases")
	}
	dir := filepath.Join("..", "..", "..", "shared", "data", "Task04_Hippocampus")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no real data")
	}
	in, err := InputFromFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compute(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) != 220 || len(f.LabelValues) != 3 || f.Modalities[0] != "MRI" {
		t.Fatalf("%d cases, labels %v, modalities %v", len(f.Cases), f.LabelValues, f.Modalities)
	}
	for _, c := range f.Cases {
		if c.Spacing != [3]float64{1, 1, 1} {
			t.Errorf("case %s spacing %v", c.ID, c.Spacing)
		}
	}
	t.Logf("foreground %+v, relative size after crop %.3f", f.ForegroundPerChannel[0], f.MedianRelativeSizeAfterCrop)
}
