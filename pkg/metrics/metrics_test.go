package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

// box returns a mask of shape with the inclusive box [lo, hi] set.
func box(shape, lo, hi [3]int) []bool {
	m := make([]bool, shape[0]*shape[1]*shape[2])
	for z := lo[2]; z <= hi[2]; z++ {
		for y := lo[1]; y <= hi[1]; y++ {
			for x := lo[0]; x <= hi[0]; x++ {
				m[x+shape[0]*(y+shape[1]*z)] = true
			}
		}
	}
	return m
}

func TestDice(t *testing.T) {
	s := [3]int{8, 8, 8}
	empty := make([]bool, 512)
	a := box(s, [3]int{0, 0, 0}, [3]int{3, 3, 3})
	for _, tc := range []struct {
		name      string
		ref, pred []bool
		want      float64
	}{
		{"identical", a, a, 1},
		{"half overlap", a, box(s, [3]int{2, 0, 0}, [3]int{5, 3, 3}), 0.5},       // 2*32/128
		{"disjoint", a, box(s, [3]int{4, 4, 4}, [3]int{7, 7, 7}), 0},             // 0
		{"nested", a, box(s, [3]int{0, 0, 0}, [3]int{1, 3, 3}), 2 * 32.0 / 96.0}, // 2*32/(64+32)
		{"pred empty", a, empty, 0},
		{"ref empty", empty, a, 0},
		{"both empty", empty, empty, math.NaN()},
	} {
		got := Dice(tc.ref, tc.pred)
		if !(got == tc.want || math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("%s: Dice = %g, want %g", tc.name, got, tc.want)
		}
	}
}

func TestSurface(t *testing.T) {
	s := [3]int{5, 5, 5}
	got := Surface(box(s, [3]int{1, 1, 1}, [3]int{3, 3, 3}), s)
	n := 0
	for i, b := range got {
		if b {
			n++
		}
		if i == 2+5*(2+5*2) && b {
			t.Error("centre voxel counted as surface")
		}
	}
	if n != 26 {
		t.Errorf("3x3x3 cube: %d surface voxels, want 26", n)
	}
	// A 2D image: 3x3 square in 5x5x1 has 8 boundary pixels.
	flat := Surface(box([3]int{5, 5, 1}, [3]int{1, 1, 0}, [3]int{3, 3, 0}), [3]int{5, 5, 1})
	if c := count(flat); c != 8 || flat[2+5*2] {
		t.Errorf("2D square: %d surface pixels (centre %v), want 8 (false)", c, flat[2+5*2])
	}
	// Voxels on the grid border are surface even when the mask fills it.
	full := Surface(box([3]int{3, 3, 3}, [3]int{0, 0, 0}, [3]int{2, 2, 2}), [3]int{3, 3, 3})
	if !full[0] || full[13] {
		t.Errorf("full 3^3 grid: corner surface %v, centre surface %v; want true, false", full[0], full[13])
	}
}

func count(m []bool) int {
	n := 0
	for _, b := range m {
		if b {
			n++
		}
	}
	return n
}

// bruteSquared is the squared distance to the nearest feature by search.
func bruteSquared(feature []bool, shape [3]int, sp [3]float64) []float64 {
	out := make([]float64, len(feature))
	for i := range out {
		x, y, z := i%shape[0], i/shape[0]%shape[1], i/(shape[0]*shape[1])
		best := math.Inf(1)
		for j, f := range feature {
			if !f {
				continue
			}
			dx := sp[0] * float64(x-j%shape[0])
			dy := sp[1] * float64(y-j/shape[0]%shape[1])
			dz := sp[2] * float64(z-j/(shape[0]*shape[1]))
			best = math.Min(best, dx*dx+dy*dy+dz*dz)
		}
		out[i] = best
	}
	return out
}

func TestEDTBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 60; trial++ {
		shape := [3]int{1 + rng.IntN(9), 1 + rng.IntN(9), 1 + rng.IntN(9)}
		sp := [3]float64{0.3 + 3*rng.Float64(), 0.3 + 3*rng.Float64(), 0.3 + 3*rng.Float64()}
		density := []float64{0, 0.01, 0.05, 0.3, 0.9}[trial%5]
		f := make([]bool, shape[0]*shape[1]*shape[2])
		for i := range f {
			f[i] = rng.Float64() < density
		}
		if trial%7 == 3 {
			f[rng.IntN(len(f))] = true // a single feature
		}
		got, want := SquaredEDT(f, shape, sp), bruteSquared(f, shape, sp)
		for i := range got {
			if !(got[i] == want[i] || math.Abs(got[i]-want[i]) <= 1e-9) {
				t.Fatalf("trial %d shape %v spacing %v: voxel %d: EDT² %v, brute force %v", trial, shape, sp, i, got[i], want[i])
			}
		}
	}
}

// bruteHausdorff recomputes the percentile Hausdorff distance from scratch:
// surfaces by neighbour tests, distances by search over all pairs.
func bruteHausdorff(ref, pred []bool, shape [3]int, sp [3]float64, p float64, conv Convention) float64 {
	surf := func(m []bool) [][3]int {
		var out [][3]int
		get := func(x, y, z int) bool {
			if x < 0 || y < 0 || z < 0 || x >= shape[0] || y >= shape[1] || z >= shape[2] {
				return false
			}
			return m[x+shape[0]*(y+shape[1]*z)]
		}
		for z := 0; z < shape[2]; z++ {
			for y := 0; y < shape[1]; y++ {
				for x := 0; x < shape[0]; x++ {
					if get(x, y, z) && (!get(x-1, y, z) || !get(x+1, y, z) || !get(x, y-1, z) || !get(x, y+1, z) || !get(x, y, z-1) || !get(x, y, z+1)) {
						out = append(out, [3]int{x, y, z})
					}
				}
			}
		}
		return out
	}
	dists := func(a, b [][3]int) []float64 {
		var out []float64
		for _, u := range a {
			best := math.Inf(1)
			for _, v := range b {
				d := 0.0
				for k := 0; k < 3; k++ {
					d += math.Pow(sp[k]*float64(u[k]-v[k]), 2)
				}
				best = math.Min(best, math.Sqrt(d))
			}
			out = append(out, best)
		}
		return out
	}
	pct := func(x []float64) float64 { // numpy linear
		sort.Float64s(x)
		r := p / 100 * float64(len(x)-1)
		lo, hi := math.Floor(r), math.Ceil(r)
		return x[int(lo)] + (r-lo)*(x[int(hi)]-x[int(lo)])
	}
	sr, sp2 := surf(ref), surf(pred)
	if len(sr) == 0 && len(sp2) == 0 {
		return math.NaN()
	}
	if len(sr) == 0 || len(sp2) == 0 {
		return math.Inf(1)
	}
	a, b := dists(sp2, sr), dists(sr, sp2)
	if conv == MedPy {
		return pct(append(a, b...))
	}
	return math.Max(pct(a), pct(b))
}

func TestHausdorffBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	blob := func(shape [3]int) []bool {
		// A random union of boxes, so surfaces have varied shapes.
		m := make([]bool, shape[0]*shape[1]*shape[2])
		for k := rng.IntN(4); k >= 0; k-- {
			var lo, hi [3]int
			for a := 0; a < 3; a++ {
				lo[a] = rng.IntN(shape[a])
				hi[a] = min(shape[a]-1, lo[a]+rng.IntN(5))
			}
			for i, b := range box(shape, lo, hi) {
				m[i] = m[i] || b
			}
		}
		return m
	}
	for trial := 0; trial < 40; trial++ {
		shape := [3]int{3 + rng.IntN(10), 3 + rng.IntN(10), 3 + rng.IntN(8)}
		sp := [3]float64{0.5 + 2*rng.Float64(), 0.5 + 2*rng.Float64(), 0.5 + 4*rng.Float64()}
		ref, pred := blob(shape), blob(shape)
		for _, conv := range []Convention{MONAI, MedPy} {
			for _, p := range []float64{95, 100, 50} {
				got := Hausdorff(ref, pred, shape, sp, p, conv)
				want := bruteHausdorff(ref, pred, shape, sp, p, conv)
				if math.Abs(got-want) > 1e-9 {
					t.Fatalf("trial %d conv %d p %g: Hausdorff %g, brute force %g", trial, conv, p, got, want)
				}
			}
		}
	}
}

func TestHD95Known(t *testing.T) {
	// Two parallel full planes 3 slices apart with 2.5 mm slices: every
	// surface distance is 7.5 mm.
	s := [3]int{6, 5, 8}
	ref := box(s, [3]int{0, 0, 2}, [3]int{5, 4, 2})
	pred := box(s, [3]int{0, 0, 5}, [3]int{5, 4, 5})
	if got := HD95(ref, pred, s, [3]float64{0.7, 0.9, 2.5}); math.Abs(got-7.5) > 1e-12 {
		t.Errorf("HD95 = %g, want 7.5", got)
	}
	empty := make([]bool, len(ref))
	if got := HD95(ref, empty, s, [3]float64{1, 1, 1}); !math.IsInf(got, 1) {
		t.Errorf("HD95 with empty prediction = %g, want +Inf", got)
	}
	if got := HD95(empty, empty, s, [3]float64{1, 1, 1}); !math.IsNaN(got) {
		t.Errorf("HD95 of two empty masks = %g, want NaN", got)
	}
}

func TestEvaluateAndTables(t *testing.T) {
	shape := [3]int{6, 6, 4}
	n := 6 * 6 * 4
	ref, pred := make([]uint8, n), make([]uint8, n)
	for i := range ref {
		x := i % 6
		if x < 3 {
			ref[i], pred[i] = 1, 1 // label 1 perfect
		}
	}
	pred[n-1] = 2 // label 2 only in the prediction; label 3 nowhere
	opts := Options{Labels: []int{1, 2, 3}, Names: map[int]string{1: "a", 2: "b", 3: "c"}}
	c1, err := Evaluate("c1", ref, pred, shape, [3]float64{1, 1, 2}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := c1.Labels
	if s[0].Dice != 1 || s[0].HD95 != 0 || s[1].Dice != 0 || !math.IsInf(float64(s[1].HD95), 1) ||
		!math.IsNaN(float64(s[2].Dice)) || !math.IsNaN(float64(s[2].HD95)) || s[1].PredVoxels != 1 || s[1].RefVoxels != 0 {
		t.Fatalf("scores %+v", s)
	}
	// A second case where label 2 is present in both with Dice 2/3.
	ref2, pred2 := make([]int, n), make([]int, n)
	ref2[0], ref2[1], pred2[1] = 2, 2, 2
	c2, err := Evaluate("c2", ref2, pred2, shape, [3]float64{1, 1, 2}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tab := Summarize([]CaseResult{c1, c2})
	m := tab.Mean
	// label 1: Dice 1 (c1) and 0 (c2, prediction empty... both empty -> NaN) -> 1 over 1 case.
	if m[0].NDice != 1 || m[0].Dice != 1 {
		t.Errorf("label 1 mean %+v", m[0])
	}
	if m[1].NDice != 2 || math.Abs(float64(m[1].Dice)-(0+2.0/3)/2) > 1e-12 || m[1].NHD95 != 1 {
		t.Errorf("label 2 mean %+v", m[1])
	}
	if m[2].NDice != 0 || !math.IsNaN(float64(m[2].Dice)) {
		t.Errorf("label 3 mean %+v", m[2])
	}
	if want := (1 + 1.0/3) / 2; math.Abs(float64(tab.MeanDice)-want) > 1e-12 {
		t.Errorf("mean Dice %g, want %g", tab.MeanDice, want)
	}

	var csvb, jsonb bytes.Buffer
	if err := tab.WriteCSV(&csvb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csvb.String(), "c1,2,b,0,inf,0,1\n") || !strings.Contains(csvb.String(), "c1,3,c,nan,nan,0,0\n") {
		t.Errorf("CSV:\n%s", csvb.String())
	}
	if err := tab.WriteJSON(&jsonb); err != nil {
		t.Fatal(err)
	}
	var back Table
	if err := json.Unmarshal(jsonb.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not read back: %v\n%s", err, jsonb.String())
	}
	if !math.IsNaN(float64(back.Cases[0].Labels[2].Dice)) || back.Cases[0].Labels[0].Dice != 1 {
		t.Errorf("JSON round trip: %+v", back.Cases[0].Labels)
	}
	dir := t.TempDir()
	for _, name := range []string{"t.csv", "t.json"} {
		if err := tab.Save(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if err := tab.Save(filepath.Join(dir, "t.txt")); err == nil {
		t.Error("unknown extension accepted")
	}
}

func TestEvaluateErrors(t *testing.T) {
	if _, err := Evaluate("x", make([]uint8, 7), make([]uint8, 8), [3]int{2, 2, 2}, [3]float64{1, 1, 1}, Options{}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Evaluate("x", make([]uint8, 8), make([]uint8, 8), [3]int{2, 2, 2}, [3]float64{1, 0, 1}, Options{}); err == nil {
		t.Error("zero spacing accepted")
	}
	a := volume.New([3]int{2, 2, 2}, 1, [3]float64{1, 1, 1})
	b := volume.New([3]int{2, 2, 2}, 1, [3]float64{1, 1, 2})
	if _, err := EvaluateVolumes("x", a, b, Options{}); err == nil || !strings.Contains(err.Error(), "spacing") {
		t.Errorf("spacing mismatch: %v", err)
	}
	c := volume.New([3]int{2, 2, 2}, 1, [3]float64{1, 1, 1})
	c.Data[3] = 1.5
	if _, err := EvaluateVolumes("x", a, c, Options{}); err == nil || !strings.Contains(err.Error(), "not a label") {
		t.Errorf("fractional label: %v", err)
	}
	c.Data[3] = 1
	r, err := EvaluateVolumes("x", a, c, Options{})
	if err != nil || len(r.Labels) != 1 || r.Labels[0].Dice != 0 {
		t.Errorf("EvaluateVolumes = %+v, %v", r, err)
	}
}

// BenchmarkHD95 scores two offset spheres (radius 40 voxels) in a
// 160x160x100 grid of 0.8x0.8x1.5 mm, heart-scale.
func BenchmarkHD95(b *testing.B) {
	shape := [3]int{160, 160, 100}
	sphere := func(cx float64) []bool {
		m := make([]bool, shape[0]*shape[1]*shape[2])
		for z := 0; z < shape[2]; z++ {
			for y := 0; y < shape[1]; y++ {
				for x := 0; x < shape[0]; x++ {
					dx, dy, dz := (float64(x)-cx)*0.8, (float64(y)-80)*0.8, (float64(z)-50)*1.5
					m[x+shape[0]*(y+shape[1]*z)] = dx*dx+dy*dy+dz*dz < 32*32
				}
			}
		}
		return m
	}
	ref, pred := sphere(80), sphere(84)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		HD95(ref, pred, shape, [3]float64{0.8, 0.8, 1.5})
	}
}
