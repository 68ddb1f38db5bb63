package sampler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

// TestRealHippocampus draws augmented batches from two Task04 cases of
// ../shared/data when present.
func TestRealHippocampus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "Task04_Hippocampus")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("Task04_Hippocampus not present")
	}
	var cases []Case
	for _, id := range []string{"hippocampus_001", "hippocampus_004"} {
		img, err := volume.Read(filepath.Join(dir, "imagesTr", id+".nii.gz"))
		if err != nil {
			t.Fatal(err)
		}
		lab, err := volume.Read(filepath.Join(dir, "labelsTr", id+".nii.gz"))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, Case{ID: id, Image: img, Label: lab})
	}
	s, err := New(cases, Config{Patch: [3]int{40, 56, 40}, BatchSize: 2, ForegroundFraction: 0.33, Augment: NNUNet(false)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for it := 0; it < 3; it++ {
		b, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		fg := 0
		for _, l := range b.Labels {
			if l > 2 {
				t.Fatalf("label %d outside the task's 0..2", l)
			}
			if l > 0 {
				fg++
			}
		}
		if fg == 0 {
			t.Errorf("batch %d has no foreground although patch 1 is forced", it)
		}
	}
}
