package plot

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

// TestRealHippocampus draws a Task04 case from ../shared/data when present
// (set MSD_PLOT_DIR to keep the pictures; nothing derived is committed).
func TestRealHippocampus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "Task04_Hippocampus")
	img, err := volume.Read(filepath.Join(dir, "imagesTr", "hippocampus_001.nii.gz"))
	if os.IsNotExist(err) || (err != nil && !fileExists(dir)) {
		t.Skip("Task04_Hippocampus not present")
	}
	if err != nil {
		t.Fatal(err)
	}
	lbl, err := volume.Read(filepath.Join(dir, "labelsTr", "hippocampus_001.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pl := range Planes {
		b, err := Slice(img, SliceOptions{Plane: pl, Index: Auto, Labels: lbl, SideBySide: true,
			LabelNames: map[int]string{1: "Anterior", 2: "Posterior"}, Title: "hippocampus_001 " + pl.String()})
		if err != nil {
			t.Fatal(err)
		}
		if err := Display(b); err != nil {
			t.Fatal(err)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestOblique(t *testing.T) {
	a := 10 * math.Pi / 180
	aff := [4][4]float64{{math.Cos(a), -math.Sin(a), 0, 0}, {math.Sin(a), math.Cos(a), 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 1}}
	m, err := readAffine(aff)
	if err != nil || math.Abs(m.obliqueDeg-10) > 1e-9 {
		t.Errorf("obliqueDeg = %g, %v; want 10", m.obliqueDeg, err)
	}
	vw, _ := newView(aff, Axial)
	if vw.left != "R" || vw.top != "A" {
		t.Errorf("oblique axial letters %s/%s, want R/A", vw.left, vw.top)
	}
}
