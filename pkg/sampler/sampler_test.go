package sampler

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

// blobCase returns a case of the given shape whose label is 1 inside a ball
// of radius r1 at c1 and 2 inside a ball of radius r2 at c2, and whose image
// channel k is (k+1)·100·label (so label = image > 50 on channel 0).
func blobCase(id string, shape [3]int, channels int, c1 [3]float64, r1 float64, c2 [3]float64, r2 float64) Case {
	img := volume.New(shape, channels, [3]float64{1, 1, 1})
	lab := volume.New(shape, 1, [3]float64{1, 1, 1})
	n := img.NumVoxels()
	for z := 0; z < shape[2]; z++ {
		for y := 0; y < shape[1]; y++ {
			for x := 0; x < shape[0]; x++ {
				p := [3]float64{float64(x), float64(y), float64(z)}
				i := lab.Index(x, y, z)
				if dist(p, c1) < r1 {
					lab.Data[i] = 1
				} else if dist(p, c2) < r2 {
					lab.Data[i] = 2
				}
				for k := 0; k < channels; k++ {
					img.Data[k*n+i] = float32(k+1) * 100 * lab.Data[i]
				}
			}
		}
	}
	return Case{ID: id, Image: img, Label: lab}
}

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

func testCases() []Case {
	return []Case{
		blobCase("a", [3]int{30, 26, 20}, 2, [3]float64{10, 10, 8}, 5, [3]float64{20, 14, 12}, 3),
		blobCase("b", [3]int{24, 30, 18}, 2, [3]float64{6, 20, 9}, 4, [3]float64{17, 8, 9}, 4),
	}
}

func full() Augment {
	a := NNUNet(false)
	a.ShiftProb, a.ShiftSigma = 0.5, 0.1
	return a
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Patch: [3]int{12, 10, 8}, BatchSize: 5, ForegroundFraction: 0.33, Augment: full()}
	cfg.Augment.RotateProb, cfg.Augment.ScaleProb = 1, 1
	draw := func(seed uint64, workers, n int) []*Batch {
		c := cfg
		c.Workers = workers
		s, err := New(testCases(), c, seed)
		if err != nil {
			t.Fatal(err)
		}
		var out []*Batch
		for i := 0; i < n; i++ {
			b, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	a, b, c := draw(7, 1, 4), draw(7, 4, 4), draw(8, 4, 4)
	for i := range a {
		if !slices.Equal(a[i].Images, b[i].Images) || !slices.Equal(a[i].Labels, b[i].Labels) || !slices.Equal(a[i].CaseIDs, b[i].CaseIDs) {
			t.Fatalf("batch %d differs between runs with the same seed (1 vs 4 workers)", i)
		}
	}
	if slices.Equal(a[0].Images, c[0].Images) {
		t.Error("seeds 7 and 8 gave the same batch")
	}

	s, _ := New(testCases(), cfg, 3)
	s.Next()
	st, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := s.Next()
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	y, _ := s.Next()
	if !slices.Equal(x.Images, y.Images) || !slices.Equal(x.Labels, y.Labels) {
		t.Error("SetState does not replay the batch")
	}
}

func TestOversampling(t *testing.T) {
	// A large case with a small foreground: unforced patches rarely hit it.
	cases := []Case{blobCase("big", [3]int{64, 64, 48}, 1, [3]float64{10, 50, 10}, 2.5, [3]float64{50, 10, 40}, 1.5)}
	patch := [3]int{8, 8, 8}
	s, err := New(cases, Config{Patch: patch, BatchSize: 3, ForegroundFraction: 1.0 / 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	class := map[uint8]int{}
	for it := 0; it < 400; it++ {
		b, _ := s.Next()
		// nnU-Net rule: patch i forced iff i >= round(3·2/3) = 2.
		if !slices.Equal(b.Forced, []bool{false, false, true}) {
			t.Fatalf("forced %v, want [false false true]", b.Forced)
		}
		n := patch[0] * patch[1] * patch[2]
		lab := b.Labels[2*n : 3*n]
		centre := lab[4+8*(4+8*4)] // the patch starts at voxel - patch/2
		if centre == 0 {
			t.Fatal("forced patch not centred on foreground")
		}
		class[centre]++
	}
	// Classes are drawn uniformly although class 1 has ~5x the voxels of class 2.
	if f := float64(class[1]) / 400; math.Abs(f-0.5) > 0.1 {
		t.Errorf("class 1 chosen in %.2f of forced patches, want about 0.5 (%v)", f, class)
	}

	p, _ := New(cases, Config{Patch: patch, BatchSize: 4, ForegroundFraction: 0.3, Probabilistic: true}, 2)
	forced, total := 0, 0
	for it := 0; it < 1000; it++ {
		b, _ := p.Next()
		for _, f := range b.Forced {
			if f {
				forced++
			}
			total++
		}
	}
	// Binomial(4000, 0.3): sd 29; allow 4 sd.
	if d := math.Abs(float64(forced) - 0.3*float64(total)); d > 4*math.Sqrt(float64(total)*0.3*0.7) {
		t.Errorf("probabilistic: %d of %d patches forced, want about %.0f", forced, total, 0.3*float64(total))
	}
}

func TestAugmentAlignment(t *testing.T) {
	cases := testCases()
	aug := Augment{Mirror: [3]bool{true, true, true}, RotateProb: 1, Rotate: [3]float64{0.5, 0.5, 0.5}, ScaleProb: 1, Scale: [2]float64{0.8, 1.25}}
	s, err := New(cases, Config{Patch: [3]int{16, 16, 12}, BatchSize: 4, ForegroundFraction: 1, Augment: aug}, 5)
	if err != nil {
		t.Fatal(err)
	}
	P := [3]int{16, 16, 12}
	n := 16 * 16 * 12
	mismatch, total := 0, 0
	for it := 0; it < 20; it++ {
		b, _ := s.Next()
		for i := 0; i < 4; i++ {
			img, lab := b.Images[i*2*n:(i*2+1)*n], b.Labels[i*n:(i+1)*n]
			for j, l := range lab {
				if l > 2 {
					t.Fatalf("label %d not in the case's label set", l)
				}
				// Channel 0 is 100·label: nearest label vs interpolated intensity.
				want := uint8(0)
				if img[j] > 150 {
					want = 2
				} else if img[j] > 50 {
					want = 1
				}
				total++
				if want != l {
					mismatch++
					if !nearBoundary(lab, P, j) && !onBorder(P, j) {
						t.Fatalf("patch %d voxel %d: label %d but image %g, away from any label boundary", i, j, l, img[j])
					}
				}
			}
		}
	}
	if f := float64(mismatch) / float64(total); f > 0.03 {
		t.Errorf("%.1f%% of voxels disagree between image and label", 100*f)
	}
}

// onBorder reports whether voxel j lies on the patch's faces (whose
// neighbours outside the patch are unknown).
func onBorder(P [3]int, j int) bool {
	x, y, z := j%P[0], j/P[0]%P[1], j/(P[0]*P[1])
	return x == 0 || y == 0 || z == 0 || x == P[0]-1 || y == P[1]-1 || z == P[2]-1
}

// nearBoundary reports whether voxel j of lab has a neighbour (26-) with
// another label.
func nearBoundary(lab []uint8, P [3]int, j int) bool {
	x, y, z := j%P[0], j/P[0]%P[1], j/(P[0]*P[1])
	for dz := -1; dz <= 1; dz++ {
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				xx, yy, zz := x+dx, y+dy, z+dz
				if xx >= 0 && yy >= 0 && zz >= 0 && xx < P[0] && yy < P[1] && zz < P[2] && lab[xx+P[0]*(yy+P[1]*zz)] != lab[j] {
					return true
				}
			}
		}
	}
	return false
}

// TestMirrorExact checks that without rotation or scaling a patch is an
// exact (possibly mirrored) copy of the case.
func TestMirrorExact(t *testing.T) {
	c := blobCase("a", [3]int{9, 7, 5}, 1, [3]float64{3, 3, 2}, 2, [3]float64{6, 4, 3}, 1.5)
	for i := range c.Image.Data {
		c.Image.Data[i] += float32(i) // make every voxel distinct
	}
	P := [3]int{9, 7, 5} // whole case: the start is 0
	s, _ := New([]Case{c}, Config{Patch: P, BatchSize: 16, Augment: Augment{Mirror: [3]bool{true, true, true}}}, 9)
	b, _ := s.Next()
	n := 9 * 7 * 5
	seen := map[[3]bool]bool{}
	for i := 0; i < 16; i++ {
		img, lab := b.Images[i*n:(i+1)*n], b.Labels[i*n:(i+1)*n]
		// Find the mirroring that maps the case onto the patch.
		var flip [3]bool
		found := false
		for f := 0; f < 8 && !found; f++ {
			fl := [3]bool{f&1 != 0, f&2 != 0, f&4 != 0}
			ok := true
			for z := 0; z < 5 && ok; z++ {
				for y := 0; y < 7 && ok; y++ {
					for x := 0; x < 9 && ok; x++ {
						sx, sy, sz := x, y, z
						if fl[0] {
							sx = 8 - x
						}
						if fl[1] {
							sy = 6 - y
						}
						if fl[2] {
							sz = 4 - z
						}
						j := x + 9*(y+7*z)
						k := c.Image.Index(sx, sy, sz)
						ok = img[j] == c.Image.Data[k] && float32(lab[j]) == c.Label.Data[k]
					}
				}
			}
			if ok {
				found, flip = true, fl
			}
		}
		if !found {
			t.Fatalf("patch %d is not a mirrored copy of the case", i)
		}
		seen[flip] = true
	}
	if len(seen) < 4 {
		t.Errorf("only %d mirror combinations in 16 patches", len(seen))
	}
}

// TestCopyMatchesInterpolation checks the direct-copy path against the
// interpolating one for mirrorings, inside and across the case border.
func TestCopyMatchesInterpolation(t *testing.T) {
	c := testCases()[0]
	ci, err := newCaseInfo(c)
	if err != nil {
		t.Fatal(err)
	}
	P := [3]int{10, 9, 8}
	n := 10 * 9 * 8
	cc := [3]float64{4.5, 4, 3.5}
	for _, centre := range [][3]float64{{12.5, 11, 9.5}, {1.5, 2, 18.5}, {-3.5, 25, 3.5}} {
		for f := 0; f < 8; f++ {
			var A [3][3]float64
			for a := 0; a < 3; a++ {
				A[a][a] = 1
				if f>>a&1 == 1 {
					A[a][a] = -1
				}
			}
			p := &plan{ci: &ci, centre: centre}
			i1, l1 := make([]float32, 2*n), make([]uint8, n)
			i2, l2 := make([]float32, 2*n), make([]uint8, n)
			if !copyPatch(p, A, P, cc, i1, l1) {
				t.Fatal("copyPatch refused a mirroring")
			}
			interpolate(p, A, P, cc, i2, l2)
			if !slices.Equal(i1, i2) || !slices.Equal(l1, l2) {
				t.Fatalf("centre %v flips %03b: copy and interpolation differ", centre, f)
			}
		}
	}
	A := rotation(2, 0.1)
	if copyPatch(&plan{ci: &ci}, A, P, cc, make([]float32, 2*n), make([]uint8, n)) {
		t.Error("copyPatch accepted a rotation")
	}
}

func TestPadding(t *testing.T) {
	c := blobCase("small", [3]int{4, 5, 3}, 1, [3]float64{1, 2, 1}, 1.2, [3]float64{3, 3, 2}, 0.9)
	for i := range c.Image.Data {
		c.Image.Data[i] += 1 + float32(i)
	}
	P := [3]int{8, 8, 4}
	s, _ := New([]Case{c}, Config{Patch: P, BatchSize: 3, ForegroundFraction: 0.5}, 1)
	b, _ := s.Next()
	n := 8 * 8 * 4
	// pad (4, 3, 1): starts (-2, -1, 0) whatever the draw, as nnU-Net.
	off := [3]int{2, 1, 0}
	for i := 0; i < 3; i++ {
		for z := 0; z < P[2]; z++ {
			for y := 0; y < P[1]; y++ {
				for x := 0; x < P[0]; x++ {
					sx, sy, sz := x-off[0], y-off[1], z-off[2]
					var wantI, wantL float32
					if sx >= 0 && sy >= 0 && sz >= 0 && sx < 4 && sy < 5 && sz < 3 {
						k := c.Image.Index(sx, sy, sz)
						wantI, wantL = c.Image.Data[k], c.Label.Data[k]
					}
					j := x + 8*(y+8*z)
					if b.Images[i*n+j] != wantI || float32(b.Labels[i*n+j]) != wantL {
						t.Fatalf("patch %d (%d,%d,%d): %g/%d, want %g/%g", i, x, y, z, b.Images[i*n+j], b.Labels[i*n+j], wantI, wantL)
					}
				}
			}
		}
	}
}

func TestTwoD(t *testing.T) {
	cases := testCases()
	s, err := New(cases, Config{Patch: [3]int{14, 12, 1}, BatchSize: 6, ForegroundFraction: 0.5, Augment: NNUNet(true)}, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Next()
	if !slices.Equal(b.Shape, []int{6, 2, 12, 14}) || !slices.Equal(b.LabelShape(), []int{6, 12, 14}) {
		t.Fatalf("shapes %v %v", b.Shape, b.LabelShape())
	}
	if len(b.Images) != 6*2*12*14 || len(b.Labels) != 6*12*14 {
		t.Fatalf("lengths %d %d", len(b.Images), len(b.Labels))
	}
	// Without augmentation a 2D patch is a crop of one z slice.
	s, _ = New(cases[:1], Config{Patch: [3]int{30, 26, 1}, BatchSize: 2}, 4)
	b, _ = s.Next()
	n := 30 * 26
	c := cases[0]
	for i := 0; i < 2; i++ {
		match := -1
		for z := 0; z < 20 && match < 0; z++ {
			if slices.Equal(b.Images[i*2*n:i*2*n+n], c.Image.Data[z*n:(z+1)*n]) {
				match = z
			}
		}
		if match < 0 {
			t.Fatalf("2D patch %d is not a z slice of the case", i)
		}
	}
}

func TestIntensity(t *testing.T) {
	x := []float32{1, 2, 3, 4, 10}
	m0, s0 := stats(x, 1)
	gamma(x, 1.4, false)
	m1, s1 := stats(x, 1)
	if math.Abs(m0-m1) > 1e-4 || math.Abs(s0-s1) > 1e-4 {
		t.Errorf("gamma changed mean/sd: %g/%g -> %g/%g", m0, s0, m1, s1)
	}
	y := []float32{1, 2, 3, 4, 10}
	gamma(y, 1.4, true)
	if slices.Equal(x, y) {
		t.Error("inverted gamma equals plain gamma")
	}

	z := []float32{0, 1, 2, 3, 10}
	contrast(z, 2)
	if want := []float32{0, 0, 0.8, 2.8, 10}; !slices.Equal(z, want) {
		t.Errorf("contrast x2 = %v, want %v", z, want)
	}

	// Blur keeps a constant patch constant and spreads an impulse symmetrically.
	P := [3]int{9, 9, 9}
	c := make([]float32, 729)
	for i := range c {
		c[i] = 3
	}
	blur(c, P, [3]float64{1, 0.7, 0.5})
	for _, v := range c {
		if math.Abs(float64(v)-3) > 1e-5 {
			t.Fatalf("blur of a constant: %g", v)
		}
	}
	d := make([]float32, 729)
	d[4+9*(4+9*4)] = 1
	blur(d, P, [3]float64{1, 1, 1})
	if d[3+9*(4+9*4)] != d[5+9*(4+9*4)] || d[4+9*(4+9*4)] <= d[3+9*(4+9*4)] {
		t.Error("blurred impulse is not symmetric and peaked")
	}

	// Brightness with a fixed factor doubles the patch.
	cs := testCases()
	s, _ := New(cs, Config{Patch: [3]int{8, 8, 8}, BatchSize: 2, Augment: Augment{BrightnessProb: 1, Brightness: [2]float64{2, 2}}}, 1)
	s2, _ := New(cs, Config{Patch: [3]int{8, 8, 8}, BatchSize: 2}, 1)
	a, _ := s.Next()
	b, _ := s2.Next()
	for i := range a.Images {
		if a.Images[i] != 2*b.Images[i] {
			t.Fatalf("brightness x2: %g vs %g", a.Images[i], b.Images[i])
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	below := 0
	for i := 0; i < 2000; i++ {
		g := drawGamma(rng, [2]float64{0.7, 1.5})
		if g < 0.7 || g > 1.5 {
			t.Fatalf("gamma %g outside [0.7, 1.5]", g)
		}
		if g < 1 {
			below++
		}
		if g := drawGamma(rng, [2]float64{0.5, 0.9}); g < 0.5 || g > 0.9 {
			t.Fatalf("gamma %g outside [0.5, 0.9]", g)
		}
	}
	if below < 900 || below > 1100 {
		t.Errorf("%d of 2000 gammas below 1, want about half", below)
	}
	if reflect(-1, 5) != 0 || reflect(5, 5) != 4 || reflect(-3, 2) != 1 {
		t.Error("reflect")
	}
}

func TestErrors(t *testing.T) {
	c := testCases()[0]
	bad := c
	bad.Label = volume.New([3]int{2, 2, 2}, 1, [3]float64{1, 1, 1})
	frac := testCases()[0]
	frac.Label.Data[0] = 0.5
	for _, tc := range []struct {
		name  string
		cases []Case
		cfg   Config
		want  string
	}{
		{"none", nil, Config{Patch: [3]int{4, 4, 4}, BatchSize: 1}, "no cases"},
		{"shape", []Case{bad}, Config{Patch: [3]int{4, 4, 4}, BatchSize: 1}, "shape"},
		{"fraction", []Case{frac}, Config{Patch: [3]int{4, 4, 4}, BatchSize: 1}, "not a label"},
		{"patch", []Case{c}, Config{Patch: [3]int{4, 0, 4}, BatchSize: 1}, "patch"},
		{"batch", []Case{c}, Config{Patch: [3]int{4, 4, 4}}, "batch size"},
		{"fg", []Case{c}, Config{Patch: [3]int{4, 4, 4}, BatchSize: 1, ForegroundFraction: 2}, "foreground"},
		{"gamma", []Case{c}, Config{Patch: [3]int{4, 4, 4}, BatchSize: 1, Augment: Augment{GammaProb: 0.5}}, "gamma"},
	} {
		_, err := New(tc.cases, tc.cfg, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// BenchmarkNext draws nnU-Net-augmented batches of 2 Hippocampus-sized
// patches (40x56x40) from 2-channel cases.
func BenchmarkNext(b *testing.B) {
	cs := []Case{blobCase("a", [3]int{48, 64, 48}, 2, [3]float64{20, 30, 20}, 8, [3]float64{30, 40, 25}, 6)}
	s, _ := New(cs, Config{Patch: [3]int{40, 56, 40}, BatchSize: 2, ForegroundFraction: 0.33, Augment: NNUNet(false)}, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Next()
	}
}
