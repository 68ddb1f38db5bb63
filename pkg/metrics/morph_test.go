package metrics

import (
	"slices"
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

// grid parses rows of '#' and '.' into a 2D mask (z = 1), x along a row.
func grid(rows ...string) ([]bool, [3]int) {
	shape := [3]int{len(rows[0]), len(rows), 1}
	m := make([]bool, 0, shape[0]*shape[1])
	for _, r := range rows {
		for _, c := range r {
			m = append(m, c == '#')
		}
	}
	return m, shape
}

func TestDilateErode(t *testing.T) {
	iso := [3]float64{1, 1, 1}
	dot, shape := grid(".....", ".....", "..#..", ".....", ".....")
	square, _ := grid(".....", ".###.", ".###.", ".###.", ".....")
	for _, c := range []struct {
		name    string
		erode   bool
		in      []bool
		spacing [3]float64
		r       float64
		want    []bool
	}{
		{"dilate by 0", false, dot, iso, 0, dot},
		{"dilate by 1 voxel: a cross", false, dot, iso, 1, first(grid(".....", "..#..", ".###.", "..#..", "....."))},
		{"dilate by 1.5 voxels: a square", false, dot, iso, 1.5, square},
		{"dilate by 2 voxels: a disc", false, dot, iso, 2, first(grid("..#..", ".###.", "#####", ".###.", "..#.."))},
		{"dilate by 1 mm, 2 mm along y", false, dot, [3]float64{1, 2, 1}, 1, first(grid(".....", ".....", ".###.", ".....", "....."))},
		{"dilate empty", false, make([]bool, 25), iso, 3, make([]bool, 25)},
		{"erode by 1: the centre", true, square, iso, 1, dot},
		{"erode by 0.5: unchanged", true, square, iso, 0.5, square},
		{"erode by 2: nothing", true, square, iso, 2, make([]bool, 25)},
		{"erode by 1 mm, 2 mm along y: a column", true, square, [3]float64{1, 2, 1}, 1, first(grid(".....", "..#..", "..#..", "..#..", "....."))},
		{"erode the full grid: unchanged", true, full(25), iso, 2, full(25)},
	} {
		f := Dilate
		if c.erode {
			f = Erode
		}
		got, err := f(c.in, shape, c.spacing, c.r)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := Dilate(dot[:3], shape, iso, 1); err == nil {
		t.Error("Dilate with a short mask: no error")
	}
	if _, err := Erode(dot, [3]int{5, 5, 2}, iso, 1); err == nil {
		t.Error("Erode with a mismatched shape: no error")
	}
}

func first(m []bool, _ [3]int) []bool { return m }

func full(n int) []bool {
	m := make([]bool, n)
	for i := range m {
		m[i] = true
	}
	return m
}

func TestDilateErodeVolume(t *testing.T) {
	// A 5x5x1 label map with labels 1 and 2 in a 3x3 square; 1 mm along x, 2 mm along y.
	v := volume.New([3]int{5, 5, 1}, 1, [3]float64{1, 2, 1})
	sq, _ := grid(".....", ".###.", ".###.", ".###.", ".....")
	for i, in := range sq {
		if in {
			v.Data[i] = float32(1 + i%2)
		}
	}
	for _, c := range []struct {
		name     string
		erode    bool
		r        float64
		inVoxels bool
		want     []bool
	}{
		{"erode 1 voxel", true, 1, true, first(grid(".....", ".....", "..#..", ".....", "....."))},
		{"erode 1 mm", true, 1, false, first(grid(".....", "..#..", "..#..", "..#..", "....."))},
		{"dilate 1 voxel", false, 1, true, first(grid(".###.", "#####", "#####", "#####", ".###."))},
		{"dilate 1 mm", false, 1, false, first(grid(".....", "#####", "#####", "#####", "....."))},
	} {
		f := DilateVolume
		if c.erode {
			f = ErodeVolume
		}
		got, err := f(v, c.r, c.inVoxels)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(got.Mask(), c.want) || got.Shape != v.Shape || got.Spacing != v.Spacing || got.Affine != v.Affine {
			t.Errorf("%s: got %v, want %v with v's geometry", c.name, got.Mask(), c.want)
		}
		if n, err := got.LabelCounts(); err != nil || len(n) > 2 {
			t.Errorf("%s: labels %v (%v), want 0 and 1 only", c.name, n, err)
		}
	}
}
