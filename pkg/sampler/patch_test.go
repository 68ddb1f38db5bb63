package sampler

import (
	"slices"
	"testing"
)

func TestBatchPatch(t *testing.T) {
	sp := [3]float64{0.5, 1, 2}
	for _, c := range []struct {
		name     string
		b        Batch
		i        int
		shape    [3]int
		channels int
		img      []float32
		lbl      []float32
	}{
		{"3D, second patch, 2 channels", Batch{Shape: []int{2, 2, 1, 1, 2},
			Images: []float32{1, 2, 3, 4, 5, 6, 7, 8}, Labels: []uint8{0, 1, 2, 3}},
			1, [3]int{2, 1, 1}, 2, []float32{5, 6, 7, 8}, []float32{2, 3}},
		{"3D, z y x order", Batch{Shape: []int{1, 1, 2, 1, 3},
			Images: []float32{1, 2, 3, 4, 5, 6}, Labels: []uint8{1, 0, 0, 0, 0, 2}},
			0, [3]int{3, 1, 2}, 1, []float32{1, 2, 3, 4, 5, 6}, []float32{1, 0, 0, 0, 0, 2}},
		{"2D", Batch{Shape: []int{2, 1, 2, 2},
			Images: []float32{1, 2, 3, 4, 5, 6, 7, 8}, Labels: []uint8{0, 0, 0, 1, 1, 1, 1, 0}},
			1, [3]int{2, 2, 1}, 1, []float32{5, 6, 7, 8}, []float32{1, 1, 1, 0}},
	} {
		img, lbl, err := c.b.Patch(c.i, sp)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if img.Shape != c.shape || img.Channels != c.channels || img.Spacing != sp || lbl.Shape != c.shape || lbl.Channels != 1 {
			t.Errorf("%s: image %v x%d spacing %v, label %v x%d; want %v x%d spacing %v", c.name, img.Shape, img.Channels,
				img.Spacing, lbl.Shape, lbl.Channels, c.shape, c.channels, sp)
		}
		if !slices.Equal(img.Data, c.img) || !slices.Equal(lbl.Data, c.lbl) {
			t.Errorf("%s: image %v label %v, want %v and %v", c.name, img.Data, lbl.Data, c.img, c.lbl)
		}
		if err := img.Validate(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	bad := Batch{Shape: []int{1, 1, 2, 2}, Images: []float32{1, 2, 3}, Labels: []uint8{0, 0, 0, 0}}
	if _, _, err := bad.Patch(0, sp); err == nil {
		t.Error("short images: no error")
	}
	if _, _, err := bad.Patch(1, sp); err == nil {
		t.Error("patch 1 of 1: no error")
	}
	if _, _, err := (&Batch{Shape: []int{1, 2}}).Patch(0, sp); err == nil {
		t.Error("rank-2 shape: no error")
	}
}

// TestBatchPatchFromSampler checks that a patch drawn by the sampler is a crop of its case.
func TestBatchPatchFromSampler(t *testing.T) {
	c := blobCase("a", [3]int{12, 10, 8}, 2, [3]float64{6, 5, 4}, 3, [3]float64{2, 2, 2}, 1.5)
	s, err := New([]Case{c}, Config{Patch: [3]int{12, 10, 8}, BatchSize: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Next()
	if err != nil {
		t.Fatal(err)
	}
	img, lbl, err := b.Patch(0, c.Image.Spacing)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(img.Data, c.Image.Data) || !slices.Equal(lbl.Data, c.Label.Data) {
		t.Error("a patch the size of the case is not the case itself")
	}
}
