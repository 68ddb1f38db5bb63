package volume

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// world maps voxel (x, y, z) through a's affine.
func world(a [4][4]float64, x, y, z float64) [3]float64 {
	var w [3]float64
	for i := 0; i < 3; i++ {
		w[i] = a[i][0]*x + a[i][1]*y + a[i][2]*z + a[i][3]
	}
	return w
}

func linearFn(w [3]float64) float64 { return 2*w[0] - 3*w[1] + 0.5*w[2] + 7 }

// fill sets channel 0 to f(world position).
func fill(v *Volume, f func([3]float64) float64) {
	for z := 0; z < v.Shape[2]; z++ {
		for y := 0; y < v.Shape[1]; y++ {
			for x := 0; x < v.Shape[0]; x++ {
				v.Data[v.Index(x, y, z)] = float32(f(world(v.Affine, float64(x), float64(y), float64(z))))
			}
		}
	}
}

func obliqueVolume() *Volume {
	v := New([3]int{9, 7, 5}, 1, [3]float64{1.5, 0.8, 2.5})
	// LPI-ish with a permutation: voxel x -> -world y, voxel y -> world x, voxel z -> -world z.
	v.Affine = [4][4]float64{{0, 0.8, 0, -3}, {-1.5, 0, 0.1, 12}, {0, 0, -2.5, 4}, {0, 0, 0, 1}}
	return v
}

func TestAt(t *testing.T) {
	v := New([3]int{6, 5, 4}, 1, [3]float64{1, 1, 1})
	fill(v, linearFn)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		x, y, z := rng.Float64()*5, rng.Float64()*4, rng.Float64()*3
		got, want := float64(v.At(0, x, y, z)), linearFn([3]float64{x, y, z})
		if math.Abs(got-want) > 1e-4 {
			t.Fatalf("At(%g,%g,%g)=%g want %g", x, y, z, got, want)
		}
	}
	for _, p := range [][3]float64{{-1, 0, 0}, {6, 1, 1}, {2, -1.5, 1}, {2, 2, 4}} {
		if got := v.At(0, p[0], p[1], p[2]); got != 0 {
			t.Errorf("At%v=%g outside, want 0", p, got)
		}
	}
	if got, want := v.At(0, -0.5, 0, 0), 0.5*v.Data[0]; math.Abs(float64(got-want)) > 1e-5 {
		t.Errorf("half a voxel outside: %g want %g", got, want)
	}
	if got, want := v.AtNearest(0, 2.4, 1.6, 2.5), v.Data[v.Index(2, 2, 3)]; got != want {
		t.Errorf("AtNearest=%g want %g", got, want)
	}
	if v.AtNearest(0, -0.6, 0, 0) != 0 || v.At(1, 1, 1, 1) != 0 {
		t.Error("AtNearest outside or bad channel not 0")
	}
}

func TestOrientationCodes(t *testing.T) {
	for _, tc := range []struct {
		affine [4][4]float64
		want   string
	}{
		{New([3]int{1, 1, 1}, 1, [3]float64{1, 2, 3}).Affine, "RAS"},
		{[4][4]float64{{-1, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, "LPS"},
		{obliqueVolume().Affine, "PRI"},
		{[4][4]float64{{0, 0, 1, 0}, {1, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, 0, 1}}, "AIR"},
	} {
		o, err := OrientationOf(tc.affine)
		if err != nil || o.Code() != tc.want {
			t.Errorf("OrientationOf = %q, %v; want %q", o.Code(), err, tc.want)
		}
		p, err := ParseOrientation(tc.want)
		if err != nil || p != o {
			t.Errorf("ParseOrientation(%q) = %+v, %v; want %+v", tc.want, p, err, o)
		}
	}
	for _, bad := range []string{"RA", "RRS", "XAS", "RASL"} {
		if _, err := ParseOrientation(bad); err == nil {
			t.Errorf("ParseOrientation(%q) accepted", bad)
		}
	}
	if _, err := OrientationOf([4][4]float64{}); err == nil {
		t.Error("zero affine accepted")
	}
}

func TestReorientRoundTrip(t *testing.T) {
	v := obliqueVolume()
	v.Channels = 2
	v.Data = make([]float32, 2*v.NumVoxels())
	for i := range v.Data {
		v.Data[i] = float32(i)
	}
	for _, to := range []string{"RAS", "LPS", "PIR", "ASL"} {
		r, rec, err := v.Reorient(to)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := r.Orientation(); o.Code() != to {
			t.Errorf("reoriented to %s, got %s", to, o.Code())
		}
		// Every voxel keeps its world position and value.
		n := r.NumVoxels()
		for z := 0; z < r.Shape[2]; z++ {
			for y := 0; y < r.Shape[1]; y++ {
				for x := 0; x < r.Shape[0]; x++ {
					w := world(r.Affine, float64(x), float64(y), float64(z))
					found := false
					for i := 0; i < v.NumVoxels() && !found; i++ {
						ox, oy, oz := i%9, (i/9)%7, i/63
						if d := world(v.Affine, float64(ox), float64(oy), float64(oz)); math.Abs(d[0]-w[0])+math.Abs(d[1]-w[1])+math.Abs(d[2]-w[2]) < 1e-9 {
							found = true
							for c := 0; c < 2; c++ {
								if r.Data[c*n+r.Index(x, y, z)] != v.Data[c*n+i] {
									t.Fatalf("%s: voxel value moved", to)
								}
							}
						}
					}
					if !found {
						t.Fatalf("%s: voxel %d,%d,%d has no source at its world position", to, x, y, z)
					}
				}
			}
		}
		back, err := rec.Undo(r)
		if err != nil {
			t.Fatal(err)
		}
		if back.Shape != v.Shape || back.Spacing != v.Spacing || back.Affine != v.Affine {
			t.Errorf("%s: round trip geometry %v %v %v", to, back.Shape, back.Spacing, back.Affine)
		}
		for i := range v.Data {
			if back.Data[i] != v.Data[i] {
				t.Fatalf("%s: round trip changed voxel %d", to, i)
			}
		}
	}
}

func TestResampleLinearExact(t *testing.T) {
	for _, tc := range []struct {
		shape [3]int
		modes [3]Interp
	}{
		{[3]int{13, 4, 9}, [3]Interp{}},
		{[3]int{5, 11, 3}, [3]Interp{}},
		{[3]int{9, 7, 5}, [3]Interp{}},
		{[3]int{17, 13, 5}, [3]Interp{Linear, Linear, Nearest}},
	} {
		v := obliqueVolume()
		fill(v, linearFn)
		r := v.Resample(tc.shape, tc.modes)
		for a := 0; a < 3; a++ {
			if want := v.Spacing[a] * float64(v.Shape[a]) / float64(tc.shape[a]); math.Abs(r.Spacing[a]-want) > 1e-12 {
				t.Errorf("spacing[%d]=%g want %g", a, r.Spacing[a], want)
			}
		}
		// Interior voxels (source coordinate inside the grid) are exact.
		checked := 0
		for z := 0; z < r.Shape[2]; z++ {
			for y := 0; y < r.Shape[1]; y++ {
				for x := 0; x < r.Shape[0]; x++ {
					p := [3]int{x, y, z}
					inside := true
					for a := 0; a < 3; a++ {
						c := (float64(p[a])+0.5)*float64(v.Shape[a])/float64(r.Shape[a]) - 0.5
						inside = inside && c >= 0 && c <= float64(v.Shape[a]-1)
						if tc.modes[a] == Nearest {
							inside = inside && math.Abs(c-math.Round(c)) < 1e-9
						}
					}
					if !inside {
						continue
					}
					checked++
					want := linearFn(world(r.Affine, float64(x), float64(y), float64(z)))
					if got := float64(r.Data[r.Index(x, y, z)]); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("shape %v voxel %v: %g want %g", tc.shape, p, got, want)
					}
				}
			}
		}
		if checked == 0 {
			t.Errorf("shape %v: no interior voxel checked", tc.shape)
		}
	}
}

// blob is a label map with two nested labels on a grid.
func blob(shape [3]int, spacing [3]float64) *Volume {
	v := New(shape, 1, spacing)
	c := [3]float64{float64(shape[0]) / 2, float64(shape[1]) / 2, float64(shape[2]) / 2}
	for z := 0; z < shape[2]; z++ {
		for y := 0; y < shape[1]; y++ {
			for x := 0; x < shape[0]; x++ {
				d := math.Sqrt(math.Pow((float64(x)-c[0])*spacing[0], 2) + math.Pow((float64(y)-c[1])*spacing[1], 2) + math.Pow((float64(z)-c[2])*spacing[2], 2))
				switch {
				case d < 4:
					v.Data[v.Index(x, y, z)] = 2
				case d < 7:
					v.Data[v.Index(x, y, z)] = 1
				}
			}
		}
	}
	return v
}

func TestResampleLabelsKeepsLabels(t *testing.T) {
	v := blob([3]int{20, 18, 16}, [3]float64{1, 1, 1})
	for _, shape := range [][3]int{{31, 27, 11}, {10, 9, 8}, {20, 18, 16}} {
		r, err := v.ResampleLabels(shape, [3]Interp{})
		if err != nil {
			t.Fatal(err)
		}
		count := map[float32]int{}
		for _, x := range r.Data {
			count[x]++
		}
		if len(count) != 3 || count[0] == 0 || count[1] == 0 || count[2] == 0 {
			t.Errorf("shape %v: labels %v, want exactly 0, 1, 2", shape, count)
		}
		// Volumes in mm^3 are preserved within a few percent.
		vox := r.Spacing[0] * r.Spacing[1] * r.Spacing[2]
		for _, l := range []float32{1, 2} {
			orig := 0
			for _, x := range v.Data {
				if x == l {
					orig++
				}
			}
			if got := float64(count[l]) * vox; math.Abs(got-float64(orig))/float64(orig) > 0.3 {
				t.Errorf("shape %v label %g: volume %g mm3, original %d", shape, l, got, orig)
			}
		}
	}
	if _, err := New([3]int{2, 2, 2}, 2, [3]float64{1, 1, 1}).ResampleLabels([3]int{3, 3, 3}, [3]Interp{}); err == nil {
		t.Error("2-channel label map accepted")
	}
}

func TestSeparateAxis(t *testing.T) {
	for _, tc := range []struct {
		sp, target [3]float64
		want       int
	}{
		{[3]float64{1, 1, 1}, [3]float64{1, 1, 1}, -1},
		{[3]float64{0.7, 0.7, 5}, [3]float64{0.7, 0.7, 3}, 2},
		{[3]float64{0.7, 0.7, 1}, [3]float64{0.7, 0.7, 3}, 2},
		{[3]float64{4, 1, 4}, [3]float64{1, 1, 1}, -1},
		{[3]float64{4, 1, 1}, [3]float64{1, 1, 1}, 0},
	} {
		if got := SeparateAxis(tc.sp, tc.target, AnisotropyThreshold); got != tc.want {
			t.Errorf("SeparateAxis(%v,%v)=%d want %d", tc.sp, tc.target, got, tc.want)
		}
	}
}

func TestCropPadRoundTrip(t *testing.T) {
	v := obliqueVolume()
	for i := range v.Data {
		v.Data[i] = float32(i%13) + 1
	}
	b := Box{Start: [3]int{2, 1, 1}, End: [3]int{7, 7, 4}}
	c, err := v.Crop(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Shape != [3]int{5, 6, 3} || c.Data[0] != v.Data[v.Index(2, 1, 1)] {
		t.Fatalf("crop shape %v first %g", c.Shape, c.Data[0])
	}
	if w, want := world(c.Affine, 0, 0, 0), world(v.Affine, 2, 1, 1); w != want {
		t.Errorf("crop origin %v want %v", w, want)
	}
	u, err := c.Uncrop(b, v.Shape, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Affine != v.Affine {
		t.Errorf("uncrop affine %v", u.Affine)
	}
	for z := 0; z < 5; z++ {
		for y := 0; y < 7; y++ {
			for x := 0; x < 9; x++ {
				in := x >= 2 && x < 7 && y >= 1 && y < 7 && z >= 1 && z < 4
				got, want := u.Data[u.Index(x, y, z)], float32(0)
				if in {
					want = v.Data[v.Index(x, y, z)]
				}
				if got != want {
					t.Fatalf("uncrop %d,%d,%d = %g want %g", x, y, z, got, want)
				}
			}
		}
	}
	for _, mode := range []PadMode{PadConstant, PadEdge} {
		p, pad := v.Pad([3]int{12, 7, 8}, mode, -5)
		if p.Shape != [3]int{12, 7, 8} || pad.Before != [3]int{1, 0, 1} || pad.After != [3]int{2, 0, 2} {
			t.Fatalf("pad shape %v %+v", p.Shape, pad)
		}
		want := float32(-5)
		if mode == PadEdge {
			want = v.Data[v.Index(0, 3, 0)]
		}
		if got := p.Data[p.Index(0, 3, 0)]; got != want {
			t.Errorf("mode %d corner %g want %g", mode, got, want)
		}
		back, err := p.Unpad(pad)
		if err != nil {
			t.Fatal(err)
		}
		if back.Shape != v.Shape || back.Affine != v.Affine {
			t.Fatalf("unpad geometry %v %v", back.Shape, back.Affine)
		}
		for i := range v.Data {
			if back.Data[i] != v.Data[i] {
				t.Fatalf("pad round trip changed voxel %d", i)
			}
		}
	}
	if _, err := v.Crop(Box{End: [3]int{10, 1, 1}}); err == nil {
		t.Error("crop outside accepted")
	}
}

func TestNonzeroMaskAndBox(t *testing.T) {
	v := New([3]int{8, 8, 8}, 2, [3]float64{1, 1, 1})
	// A hollow cube in channel 1 from 2..5: the hole gets filled.
	for z := 2; z <= 5; z++ {
		for y := 2; y <= 5; y++ {
			for x := 2; x <= 5; x++ {
				if x == 2 || x == 5 || y == 2 || y == 5 || z == 2 || z == 5 {
					v.Channel(1)[v.Index(x, y, z)] = 1
				}
			}
		}
	}
	m := v.NonzeroMask()
	if !m[v.Index(3, 3, 3)] || m[v.Index(1, 1, 1)] {
		t.Error("hole not filled or outside set")
	}
	if b := BoundingBox(m, v.Shape); b != (Box{Start: [3]int{2, 2, 2}, End: [3]int{6, 6, 6}}) {
		t.Errorf("box %+v", b)
	}
	if b := BoundingBox(make([]bool, 512), v.Shape); b != Full(v.Shape) {
		t.Errorf("empty mask box %+v", b)
	}
}

func TestNormalize(t *testing.T) {
	v := New([3]int{10, 10, 4}, 1, [3]float64{1, 1, 1})
	mask := make([]bool, v.NumVoxels())
	for i := range v.Data {
		if i%3 != 0 {
			v.Data[i] = float32(i%17) * 3
			mask[i] = true
		}
	}
	w := v.Clone()
	if _, _, err := w.Normalize(0, Norm{Scheme: SchemeZScore, UseMask: true}, mask); err != nil {
		t.Fatal(err)
	}
	var s, s2 float64
	n := 0
	for i, x := range w.Data {
		if !mask[i] {
			if x != 0 {
				t.Fatal("outside mask not 0")
			}
			continue
		}
		s += float64(x)
		s2 += float64(x) * float64(x)
		n++
	}
	if mean, sd := s/float64(n), math.Sqrt(s2/float64(n)-s*s/float64(n*n)); math.Abs(mean) > 1e-5 || math.Abs(sd-1) > 1e-5 {
		t.Errorf("masked z-score mean %g std %g", mean, sd)
	}
	ct := v.Clone()
	if _, _, err := ct.Normalize(0, Norm{Scheme: SchemeCT, Mean: 10, Std: 2, Lower: 3, Upper: 30}, nil); err != nil {
		t.Fatal(err)
	}
	for i, x := range v.Data {
		want := (math.Min(math.Max(float64(x), 3), 30) - 10) / 2
		if math.Abs(float64(ct.Data[i])-want) > 1e-5 {
			t.Fatalf("CT voxel %d: %g want %g", i, ct.Data[i], want)
		}
	}
	empty := v.Clone()
	if m, _, err := empty.Normalize(0, Norm{Scheme: SchemeZScore, UseMask: true}, make([]bool, v.NumVoxels())); err != nil || m == 0 {
		t.Errorf("empty mask: mean %g, %v (want the whole-image mean)", m, err)
	}
	if _, err := (Reorientation{Perm: [3]int{0, 0, 1}}).Undo(v); err == nil {
		t.Error("bad permutation accepted")
	}
	if _, _, err := v.Clone().Normalize(0, Norm{Scheme: "bogus"}, nil); err == nil {
		t.Error("unknown scheme accepted")
	}
}

func TestPrepareToOriginal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spacing [3]float64
		target  [3]float64
		affine  func(*Volume)
	}{
		{"iso", [3]float64{0.8, 0.8, 0.8}, [3]float64{1.1, 1.1, 1.1}, nil},
		{"aniso", [3]float64{0.7, 0.7, 3}, [3]float64{0.9, 0.9, 3.5}, func(v *Volume) { v.Affine[0][0], v.Affine[1][1] = -0.7, -0.7 }},
		{"permuted", [3]float64{1, 1.2, 0.9}, [3]float64{0.6, 0.6, 0.6}, func(v *Volume) {
			v.Affine = [4][4]float64{{0, 0, -0.9, 30}, {1, 0, 0, -5}, {0, -1.2, 0, 2}, {0, 0, 0, 1}}
		}},
	} {
		lbl := blob([3]int{26, 24, 10}, tc.spacing)
		if tc.affine != nil {
			tc.affine(lbl)
		}
		img := lbl.Clone()
		for i := range img.Data {
			img.Data[i] = img.Data[i]*10 + 1
		}
		// Zero border so cropping happens.
		for z := 0; z < 10; z++ {
			for y := 0; y < 24; y++ {
				img.Data[img.Index(0, y, z)], img.Data[img.Index(25, y, z)] = 0, 0
			}
		}
		steps := Steps{Orientation: "RAS", CropNonzero: true, Norm: []Norm{{Scheme: SchemeZScore, UseMask: true}}, TargetSpacing: tc.target}
		pi, pl, rec, err := Prepare(img, lbl, steps)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := pi.Orientation(); o.Code() != "RAS" || pi.Shape != pl.Shape {
			t.Errorf("%s: orientation %s shapes %v %v", tc.name, o.Code(), pi.Shape, pl.Shape)
		}
		js, _ := json.Marshal(rec)
		var rec2 Record
		if err := json.Unmarshal(js, &rec2); err != nil {
			t.Fatal(err)
		}
		back, err := rec2.ToOriginal(pl)
		if err != nil {
			t.Fatal(err)
		}
		if back.Shape != lbl.Shape || back.Affine != lbl.Affine || back.Spacing != lbl.Spacing {
			t.Fatalf("%s: geometry %v %v", tc.name, back.Shape, back.Affine)
		}
		// Mismatches only next to a label boundary (within one voxel).
		bad := 0
		for z := 0; z < 10; z++ {
			for y := 0; y < 24; y++ {
				for x := 0; x < 26; x++ {
					if back.Data[lbl.Index(x, y, z)] == lbl.Data[lbl.Index(x, y, z)] {
						continue
					}
					near := false
					for dz := -1; dz <= 1; dz++ {
						for dy := -1; dy <= 1; dy++ {
							for dx := -1; dx <= 1; dx++ {
								xx, yy, zz := x+dx, y+dy, z+dz
								if xx >= 0 && yy >= 0 && zz >= 0 && xx < 26 && yy < 24 && zz < 10 && lbl.Data[lbl.Index(xx, yy, zz)] == back.Data[lbl.Index(x, y, z)] {
									near = true
								}
							}
						}
					}
					if !near {
						bad++
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d voxels changed label away from any boundary", tc.name, bad)
		}
		// A prediction's world position: the centroid of label 2 stays put within half a voxel.
		c0, c1 := centroid(lbl, 2), centroid(back, 2)
		for a := 0; a < 3; a++ {
			if math.Abs(c0[a]-c1[a]) > 0.5*tc.spacing[a] {
				t.Errorf("%s: centroid %v vs %v", tc.name, c1, c0)
			}
		}
		if _, err := rec.ToOriginal(New([3]int{3, 3, 3}, 1, [3]float64{1, 1, 1})); err == nil {
			t.Errorf("%s: wrong shape accepted", tc.name)
		}
	}
}

// centroid of label l in world mm.
func centroid(v *Volume, l float32) [3]float64 {
	var s [3]float64
	n := 0
	for z := 0; z < v.Shape[2]; z++ {
		for y := 0; y < v.Shape[1]; y++ {
			for x := 0; x < v.Shape[0]; x++ {
				if v.Data[v.Index(x, y, z)] == l {
					w := world(v.Affine, float64(x), float64(y), float64(z))
					for a := range s {
						s[a] += w[a]
					}
					n++
				}
			}
		}
	}
	for a := range s {
		s[a] /= float64(n)
	}
	return s
}

func TestResampleCubicQuadratic(t *testing.T) {
	v := New([3]int{12, 10, 9}, 2, [3]float64{1, 1, 1})
	quad := func(x, y, z float64) float64 { return x*x - 0.5*y*y + x*z - 3*y + 2 }
	n := v.NumVoxels()
	for z := 0; z < 9; z++ {
		for y := 0; y < 10; y++ {
			for x := 0; x < 12; x++ {
				f := quad(float64(x), float64(y), float64(z))
				v.Data[v.Index(x, y, z)] = float32(f)
				v.Data[n+v.Index(x, y, z)] = float32(-f)
			}
		}
	}
	shape := [3]int{17, 7, 9}
	r := v.Resample(shape, [3]Interp{Cubic, Cubic, Nearest})
	checked := 0
	for z := 0; z < shape[2]; z++ {
		for y := 0; y < shape[1]; y++ {
			for x := 0; x < shape[0]; x++ {
				p := [3]int{x, y, z}
				var c [3]float64
				inside := true
				for a := 0; a < 3; a++ {
					c[a] = (float64(p[a])+0.5)*float64(v.Shape[a])/float64(shape[a]) - 0.5
					inside = inside && c[a] >= 1 && c[a] <= float64(v.Shape[a]-2)
				}
				if !inside {
					continue
				}
				checked++
				want := quad(c[0], c[1], c[2])
				got := r.Data[r.Index(x, y, z)]
				got2 := r.Data[r.NumVoxels()+r.Index(x, y, z)]
				if math.Abs(float64(got)-want) > 1e-3*(1+math.Abs(want)) || math.Abs(float64(got2)+want) > 1e-3*(1+math.Abs(want)) {
					t.Fatalf("cubic at %v: %g (channel 1: %g), want %g", c, got, got2, want)
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d interior voxels checked", checked)
	}
	// Linear is not exact on the quadratic: the test can tell them apart.
	l := v.Resample(shape, [3]Interp{Linear, Linear, Nearest})
	diff := 0.0
	for i := range l.Data[:l.NumVoxels()] {
		diff = math.Max(diff, math.Abs(float64(l.Data[i]-r.Data[i])))
	}
	if diff < 0.05 {
		t.Errorf("linear and cubic agree to %g on a quadratic", diff)
	}
	var m Interp
	if err := m.UnmarshalText([]byte("cubic")); err != nil || m != Cubic || m.String() != "cubic" {
		t.Errorf("cubic text round trip: %v %v", m, err)
	}
}

func TestPrepareImageInterp(t *testing.T) {
	v := New([3]int{10, 10, 10}, 1, [3]float64{1, 1, 1})
	for i := range v.Data {
		x := float64(i % 10)
		v.Data[i] = float32(x * x)
	}
	lin, _, _, err := Prepare(v, nil, Steps{TargetSpacing: [3]float64{0.7, 0.7, 0.7}})
	if err != nil {
		t.Fatal(err)
	}
	cub, _, rec, err := Prepare(v, nil, Steps{TargetSpacing: [3]float64{0.7, 0.7, 0.7}, ImageInterp: Cubic})
	if err != nil {
		t.Fatal(err)
	}
	// Voxel x=7 of 14 sits at source x = 7.5*10/14-0.5 = 4.857: cubic is exact there.
	c := 7.5*10/14 - 0.5
	if got := cub.Data[cub.Index(7, 7, 7)]; math.Abs(float64(got)-c*c) > 1e-3 {
		t.Errorf("cubic %g want %g", got, c*c)
	}
	if got := lin.Data[lin.Index(7, 7, 7)]; math.Abs(float64(got)-c*c) < 1e-2 {
		t.Errorf("linear %g unexpectedly exact", got)
	}
	if rec.Modes != [3]Interp{} {
		t.Errorf("label modes %v, want linear", rec.Modes)
	}
}

func TestShapeForSpacing(t *testing.T) {
	for _, tc := range []struct {
		shape         [3]int
		spacing, targ [3]float64
		want          [3]int
	}{
		{[3]int{212, 141, 88}, [3]float64{0.625, 0.625, 0.625}, [3]float64{1, 1, 1}, [3]int{132, 88, 55}}, // 132.5 -> 132, 88.125, 55
		{[3]int{10, 10, 3}, [3]float64{1, 1, 1}, [3]float64{1, 1, 10}, [3]int{10, 10, 1}},
		{[3]int{7, 9, 11}, [3]float64{1, 1, 1}, [3]float64{2, 2, 2}, [3]int{4, 4, 6}}, // 3.5 -> 4, 4.5 -> 4, 5.5 -> 6
	} {
		if got := ShapeForSpacing(tc.shape, tc.spacing, tc.targ); got != tc.want {
			t.Errorf("ShapeForSpacing(%v, %v, %v) = %v, want %v", tc.shape, tc.spacing, tc.targ, got, tc.want)
		}
	}
}

func TestPrepareRejectsBadInput(t *testing.T) {
	img := New([3]int{4, 4, 4}, 1, [3]float64{1, 1, 1})
	for _, tc := range []struct {
		name string
		lbl  *Volume
		s    Steps
	}{
		{"label shape", New([3]int{4, 4, 5}, 1, [3]float64{1, 1, 1}), Steps{}},
		{"label affine", func() *Volume { v := New([3]int{4, 4, 4}, 1, [3]float64{1, 1, 1}); v.Affine[0][3] = 5; return v }(), Steps{}},
		{"label channels", New([3]int{4, 4, 4}, 2, [3]float64{1, 1, 1}), Steps{}},
		{"norm count", nil, Steps{Norm: []Norm{{Scheme: SchemeNone}, {Scheme: SchemeNone}}}},
		{"orientation", nil, Steps{Orientation: "XYZ"}},
		{"spacing", nil, Steps{TargetSpacing: [3]float64{1, 0, 1}}},
		{"data length", &Volume{Shape: [3]int{4, 4, 4}, Channels: 1, Data: make([]float32, 3)}, Steps{}},
	} {
		if _, _, _, err := Prepare(img, tc.lbl, tc.s); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := New([3]int{2, 2, 2}, 1, [3]float64{1, 1, 1}).Crop(Box{Start: [3]int{1, 1, 1}, End: [3]int{1, 2, 2}}); err == nil {
		t.Error("empty crop accepted")
	}
	if _, err := New([3]int{2, 2, 2}, 1, [3]float64{1, 1, 1}).Uncrop(Full([3]int{2, 2, 2}), [3]int{1, 2, 2}, nil); err == nil {
		t.Error("uncrop into a smaller grid accepted")
	}
	bad := New([3]int{2, 2, 2}, 1, [3]float64{1, 1, 1})
	bad.Data[3] = 1.5
	if _, err := bad.LabelCounts(); err == nil {
		t.Error("fractional label accepted")
	}
}

func TestForegroundBox(t *testing.T) {
	v := New([3]int{10, 8, 6}, 1, [3]float64{1, 1, 1})
	if b := v.ForegroundBox(2); b != Full(v.Shape) {
		t.Errorf("empty: %+v", b)
	}
	v.Data[v.Index(3, 4, 1)] = 2
	v.Data[v.Index(5, 6, 2)] = 1
	if b := v.ForegroundBox(0); b != (Box{Start: [3]int{3, 4, 1}, End: [3]int{6, 7, 3}}) {
		t.Errorf("margin 0: %+v", b)
	}
	if b := v.ForegroundBox(2); b != (Box{Start: [3]int{1, 2, 0}, End: [3]int{8, 8, 5}}) {
		t.Errorf("margin 2: %+v", b)
	}
}
