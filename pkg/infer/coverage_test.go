package infer

import (
	"math"
	"reflect"
	"slices"
	"testing"
)

func TestCoverage(t *testing.T) {
	e := float32(math.Exp(-4)) // edge weight of a 4-voxel Gaussian tile (sigma 0.5): exp(-1.5²/0.5)/exp(-0.5²/0.5)
	sp := [3]float64{1, 2, 3}
	for _, c := range []struct {
		name         string
		shape, patch [3]int
		sigma        float64
		starts       [3][]int
		count        []float32
		weight       []float32
	}{
		{"uniform, two tiles along x", [3]int{6, 1, 1}, [3]int{4, 1, 1}, 0,
			[3][]int{{0, 2}, {0}, {0}}, []float32{1, 1, 2, 2, 1, 1}, []float32{1, 1, 2, 2, 1, 1}},
		{"Gaussian, two tiles along x", [3]int{6, 1, 1}, [3]int{4, 1, 1}, 1.0 / 8,
			[3][]int{{0, 2}, {0}, {0}}, []float32{1, 1, 2, 2, 1, 1}, []float32{e, 1, 1 + e, 1 + e, 1, e}},
		{"volume smaller than the patch", [3]int{3, 2, 1}, [3]int{4, 2, 1}, 0,
			[3][]int{{0}, {0}, {0}}, []float32{1, 1, 1, 1, 1, 1}, []float32{1, 1, 1, 1, 1, 1}},
		{"four tiles along z", [3]int{1, 1, 5}, [3]int{1, 1, 2}, 0,
			[3][]int{{0}, {0}, {0, 1, 2, 3}}, []float32{1, 2, 2, 2, 1}, []float32{1, 2, 2, 2, 1}},
	} {
		cv, err := NewCoverage(c.shape, c.patch, sp, 0.5, c.sigma)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(cv.Starts, c.starts) || cv.NumTiles() != len(c.starts[0])*len(c.starts[1])*len(c.starts[2]) {
			t.Errorf("%s: starts %v, want %v", c.name, cv.Starts, c.starts)
		}
		if !slices.Equal(cv.Count.Data, c.count) || cv.Count.Shape != c.shape || cv.Weight.Spacing != sp {
			t.Errorf("%s: count %v (shape %v), want %v", c.name, cv.Count.Data, cv.Count.Shape, c.count)
		}
		for i := range c.weight {
			if math.Abs(float64(cv.Weight.Data[i]-c.weight[i])) > 1e-6 {
				t.Errorf("%s: weight %v, want %v", c.name, cv.Weight.Data, c.weight)
				break
			}
		}
	}
	for _, c := range []struct {
		name         string
		shape, patch [3]int
		overlap      float64
	}{
		{"empty shape", [3]int{0, 4, 4}, [3]int{2, 2, 2}, 0.5},
		{"empty patch", [3]int{4, 4, 4}, [3]int{2, 0, 2}, 0.5},
		{"overlap 1", [3]int{4, 4, 4}, [3]int{2, 2, 2}, 1},
	} {
		if _, err := NewCoverage(c.shape, c.patch, sp, c.overlap, 0); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// TestCoverageSum checks, on a 3D grid covered with overlap, that the summed weight is the sum of
// every tile's weights and that the profiles add up to the summed curve.
func TestCoverageSum(t *testing.T) {
	cv, err := NewCoverage([3]int{13, 9, 7}, [3]int{6, 4, 4}, [3]float64{1, 1, 1}, DefaultOverlap, DefaultSigmaScale)
	if err != nil {
		t.Fatal(err)
	}
	var tile, total float64
	for _, w := range cv.Tile.Data {
		tile += float64(w)
	}
	for _, w := range cv.Weight.Data {
		total += float64(w)
	}
	if want := tile * float64(cv.NumTiles()); math.Abs(total-want) > 1e-4*want {
		t.Errorf("summed weight %g, want %d tiles x %g", total, cv.NumTiles(), tile)
	}
	for i, n := range cv.Count.Data {
		if n < 1 || cv.Weight.Data[i] <= 0 {
			t.Fatalf("voxel %d covered by %g tiles, weight %g", i, n, cv.Weight.Data[i])
		}
	}
	tiles, sum, err := cv.Profiles(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tiles) != len(cv.Starts[0]) || len(sum.Weight) != 13 {
		t.Fatalf("%d profiles and a sum of %d, want %d and 13", len(tiles), len(sum.Weight), len(cv.Starts[0]))
	}
	acc := make([]float64, 13)
	for k, p := range tiles {
		if p.Start != cv.Starts[0][k] || p.Pos[0] != p.Start || len(p.Weight) != 6 || slices.Max(p.Weight) <= 0 {
			t.Errorf("profile %d = %+v", k, p)
		}
		for i, x := range p.Pos {
			acc[x] += p.Weight[i]
		}
	}
	if !slices.Equal(acc, sum.Weight) {
		t.Errorf("profiles add up to %v, sum %v", acc, sum.Weight)
	}
	if _, _, err := cv.Profiles(3); err == nil {
		t.Error("profile along axis 3: no error")
	}
}
