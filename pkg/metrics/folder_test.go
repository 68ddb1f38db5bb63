package metrics

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

func TestEvaluateFolder(t *testing.T) {
	refDir, predDir := t.TempDir(), t.TempDir()
	shape := [3]int{10, 8, 6}
	sp := [3]float64{1, 1, 2}
	for k, id := range []string{"case_1", "case_2"} {
		ref := volume.New(shape, 1, sp)
		pred := volume.New(shape, 1, sp)
		for z := 1; z < 5; z++ {
			for y := 2; y < 6; y++ {
				for x := 2; x < 8; x++ {
					ref.Data[ref.Index(x, y, z)] = 1
					if x < 8-k { // case_2 misses one column of x
						pred.Data[pred.Index(x, y, z)] = 1
					}
				}
			}
		}
		if err := volume.Write(filepath.Join(refDir, id+".nii.gz"), ref, volume.Uint8); err != nil {
			t.Fatal(err)
		}
		if err := volume.Write(filepath.Join(predDir, id+".nii.gz"), pred, volume.Uint8); err != nil {
			t.Fatal(err)
		}
	}
	var progress bytes.Buffer
	tab, err := EvaluateFolder(refDir, predDir, Options{Labels: []int{1}, Names: map[int]string{1: "organ"}}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Cases) != 2 || tab.Cases[0].ID != "case_1" || tab.Cases[0].Labels[0].Dice != 1 {
		t.Fatalf("table %+v", tab)
	}
	// case_2: 96 reference voxels, 80 predicted inside them: Dice 160/176.
	if d := float64(tab.Cases[1].Labels[0].Dice); math.Abs(d-160.0/176) > 1e-12 {
		t.Errorf("case_2 Dice %g, want %g", d, 160.0/176)
	}
	// The missing column is 1 mm away from the predicted surface.
	if h := float64(tab.Cases[1].Labels[0].HD95); math.Abs(h-1) > 1e-12 {
		t.Errorf("case_2 HD95 %g, want 1", h)
	}
	if strings.Count(progress.String(), "\n") != 2 {
		t.Errorf("progress:\n%s", progress.String())
	}
	md := tab.Markdown(true)
	if !strings.Contains(md, "| 1 organ |") || !strings.Contains(md, "| case_2 |") {
		t.Errorf("markdown:\n%s", md)
	}

	// A prediction without a reference is an error naming the file.
	os.WriteFile(filepath.Join(predDir, "case_3.nii.gz"), []byte("x"), 0o644)
	if _, err := EvaluateFolder(refDir, predDir, Options{}, nil); err == nil || !strings.Contains(err.Error(), "case_3") {
		t.Errorf("missing reference: %v", err)
	}
	// A corrupt file is an error naming it.
	os.WriteFile(filepath.Join(refDir, "case_3.nii.gz"), []byte("x"), 0o644)
	if _, err := EvaluateFolder(refDir, predDir, Options{}, nil); err == nil || !strings.Contains(err.Error(), "case_3") {
		t.Errorf("corrupt file: %v", err)
	}
}
