package infer

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/volume"
)

// blobs returns an 8x8x8 label map with the given label on the boxes [lo, hi).
func blobs(boxes ...[3][3]int) *volume.Volume {
	v := volume.New([3]int{8, 8, 8}, 1, [3]float64{1, 1, 1})
	for _, b := range boxes { // b = {lo, hi, {label}}
		for z := b[0][2]; z < b[1][2]; z++ {
			for y := b[0][1]; y < b[1][1]; y++ {
				for x := b[0][0]; x < b[1][0]; x++ {
					v.Data[x+8*(y+8*z)] = float32(b[2][0])
				}
			}
		}
	}
	return v
}

func TestDeterminePostprocessing(t *testing.T) {
	opts := metrics.Options{Labels: []int{1, 2}}
	// Touching label 1 and 2 blocks; the prediction adds a far island of label 2.
	ref := blobs([3][3]int{{0, 0, 0}, {2, 2, 2}, {1}}, [3][3]int{{2, 0, 0}, {4, 2, 2}, {2}})
	pred := blobs([3][3]int{{0, 0, 0}, {2, 2, 2}, {1}}, [3][3]int{{2, 0, 0}, {4, 2, 2}, {2}}, [3][3]int{{7, 7, 7}, {8, 8, 8}, {2}})
	pp, before, after, err := DeterminePostprocessing([]string{"a"}, []*volume.Volume{ref}, []*volume.Volume{pred}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !pp.LargestForeground || len(pp.LargestOf) != 0 {
		t.Errorf("rules %+v, want only the largest foreground component", pp)
	}
	if !(after.MeanDice > before.MeanDice) || float64(after.MeanDice) != 1 {
		t.Errorf("mean Dice %v -> %v, want a rise to 1", before.MeanDice, after.MeanDice)
	}
	if got := pp.Apply(pred); !reflect.DeepEqual(got.Data, ref.Data) || pred.Data[7+8*(7+8*7)] != 2 {
		t.Error("Apply did not remove just the island, or changed its input")
	}

	// Label 1 truly has two parts: removing either would lower the Dice, so no rule is kept.
	ref2 := blobs([3][3]int{{0, 0, 0}, {2, 2, 2}, {1}}, [3][3]int{{5, 5, 5}, {7, 7, 7}, {1}}, [3][3]int{{0, 4, 0}, {2, 6, 2}, {2}})
	pp, before, after, err = DeterminePostprocessing([]string{"b"}, []*volume.Volume{ref2}, []*volume.Volume{ref2.Clone()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if pp.LargestForeground || len(pp.LargestOf) != 0 || after.MeanDice != before.MeanDice {
		t.Errorf("rules %+v (Dice %v -> %v), want none", pp, before.MeanDice, after.MeanDice)
	}

	// A label-level rule: label 2 has a stray voxel touching label 1, so only the per-label rule removes it.
	ref3 := blobs([3][3]int{{0, 0, 0}, {4, 4, 4}, {1}}, [3][3]int{{5, 5, 5}, {7, 7, 7}, {2}})
	pred3 := blobs([3][3]int{{0, 0, 0}, {4, 4, 4}, {1}}, [3][3]int{{5, 5, 5}, {7, 7, 7}, {2}}, [3][3]int{{4, 0, 0}, {5, 1, 1}, {2}})
	pp, _, _, err = DeterminePostprocessing([]string{"c"}, []*volume.Volume{ref3}, []*volume.Volume{pred3}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if pp.LargestForeground || !reflect.DeepEqual(pp.LargestOf, []int{2}) {
		t.Errorf("rules %+v, want largest component of label 2 only", pp)
	}

	if _, _, _, err := DeterminePostprocessing(nil, nil, nil, opts); err == nil {
		t.Error("no cases accepted")
	}
	path := filepath.Join(t.TempDir(), PostprocessingFile)
	if _, ok, err := LoadPostprocessing(path); ok || err != nil {
		t.Errorf("missing file: ok %v, err %v", ok, err)
	}
	if err := pp.Save(path); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := LoadPostprocessing(path); !ok || err != nil || !reflect.DeepEqual(got, pp) {
		t.Errorf("round trip %+v, %v, %v; want %+v", got, ok, err, pp)
	}
}
