package unet

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

func goBackend(t *testing.T) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func TestBuildShapesAndScopes(t *testing.T) {
	backend := goBackend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		cfg   Config
		input []int
		heads int
	}{
		{"2D", Config{Dims: 2, InChannels: 2, NumClasses: 3, BaseFilters: 4, MaxFilters: 8, Levels: 3}, []int{2, 2, 16, 8}, 1},
		{"2D-deep", Config{Dims: 2, InChannels: 1, NumClasses: 2, BaseFilters: 4, MaxFilters: 8, Levels: 3, DeepSupervision: true}, []int{1, 1, 8, 8}, 2},
		{"3D", Config{Dims: 3, InChannels: 1, NumClasses: 3, BaseFilters: 4, MaxFilters: 16, Levels: 2}, []int{1, 1, 4, 6, 8}, 1},
		{"3D-anisotropic", Config{Dims: 3, InChannels: 1, NumClasses: 2, BaseFilters: 4, MaxFilters: 16, DeepSupervision: true,
			PoolKernels: [][]int{{1, 2, 2}, {2, 2, 2}}, ConvKernels: [][]int{{1, 3, 3}, {3, 3, 3}, {3, 3, 3}}}, []int{2, 1, 4, 8, 12}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.New()
			x := randTensor(rng, tc.input...)
			outs, err := context.ExecOnceN(backend, ctx, func(ctx *context.Context, x *graph.Node) []*graph.Node {
				return BuildAll(ctx.In("model"), tc.cfg, x)
			}, x)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != tc.heads {
				t.Fatalf("got %d heads, want %d", len(outs), tc.heads)
			}
			for i, o := range outs {
				want := []int{tc.input[0], tc.cfg.NumClasses}
				scale := tc.cfg.FromContext(ctx).Scale(i)
				for a, s := range tc.input[2:] {
					want = append(want, s/scale[a])
				}
				if !equalInts(o.Shape().Dimensions, want) {
					t.Errorf("head %d shape %v, want %v", i, o.Shape().Dimensions, want)
				}
				for _, v := range tensors.MustCopyFlatData[float32](o) {
					if math.IsNaN(float64(v)) {
						t.Fatalf("NaN in head %d", i)
					}
				}
			}
			// Scopes: encoder, decoder and head variables under their stable names.
			var names []string
			for v := range ctx.IterVariables() {
				names = append(names, v.ScopeAndName())
			}
			joined := strings.Join(names, "\n")
			for _, want := range []string{"/model/enc_0/conv_0/weights", "/model/enc_1/conv_1/norm/gamma",
				"/model/dec_0/up/bias", "/model/dec_0/conv_1/weights", "/model/seg_head/out_0/weights"} {
				if !strings.Contains(joined, want) {
					t.Errorf("variable %s missing; have:\n%s", want, joined)
				}
			}
			if tc.cfg.DeepSupervision && !strings.Contains(joined, "/model/seg_head/out_1/weights") {
				t.Errorf("deep supervision head missing")
			}
			if tc.cfg.ConvKernels != nil {
				// Level 0 convolves in-plane only: kernel [4, 1, 1, 3, 3].
				w := ctx.GetVariableByScopeAndName("/model/enc_0/conv_0", "weights")
				if w == nil || !equalInts(w.Shape().Dimensions, []int{4, 1, 1, 3, 3}) {
					t.Errorf("enc_0/conv_0 weights %v, want [4 1 1 3 3]", w)
				}
			}
		})
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	backend := goBackend(t)
	cfg := Config{Dims: 2, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 3}
	aniso := Config{Dims: 2, InChannels: 1, NumClasses: 2, BaseFilters: 2, PoolKernels: [][]int{{1, 2}, {2, 2}}}
	for name, tc := range map[string]struct {
		cfg  Config
		dims []int
	}{
		"indivisible":        {cfg, []int{1, 1, 6, 8}},
		"channels":           {cfg, []int{1, 2, 8, 8}},
		"rank":               {cfg, []int{1, 1, 8, 8, 8}},
		"aniso-indivisible":  {aniso, []int{1, 1, 4, 6}},
		"pool-kernel-levels": {Config{Dims: 2, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 2, PoolKernels: [][]int{{2, 2}, {2, 2}}}, []int{1, 1, 8, 8}},
		"conv-kernel-even":   {Config{Dims: 2, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 2, ConvKernels: [][]int{{3, 2}, {3, 3}}}, []int{1, 1, 8, 8}},
	} {
		cfg, dims := tc.cfg, tc.dims
		_, err := context.ExecOnce(backend, context.New(), func(ctx *context.Context, x *graph.Node) *graph.Node {
			return Build(ctx, cfg, x)
		}, tensors.FromShape(tensorsShape(dims)))
		if err == nil {
			t.Errorf("%s: expected error for input %v", name, dims)
		}
	}
}

// TestUpsampleIsTransposedConv checks the pixel-shuffle upsampling against the definition of a
// transposed convolution with kernel = stride = f computed directly, for isotropic and anisotropic f.
func TestUpsampleIsTransposedConv(t *testing.T) {
	backend := goBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const B, Cin, Cout, H, W = 2, 3, 2, 3, 4
	cfg := Config{Dims: 2}
	for _, f := range [][2]int{{2, 2}, {1, 2}, {2, 1}} {
		x := randTensor(rng, B, Cin, H, W)
		ctx := context.New()
		out, err := context.ExecOnce(backend, ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
			return upsample(ctx, cfg, x, Cout, f[:])
		}, x)
		if err != nil {
			t.Fatal(err)
		}
		sub := f[0] * f[1]
		w := ctx.GetVariableByScopeAndName("/", "weights").MustValue().Value().([][][][]float32) // [Cout*sub, Cin, 1, 1]
		bias := ctx.GetVariableByScopeAndName("/", "bias").MustValue().Value().([]float32)
		xv := x.Value().([][][][]float32)
		got := out.Value().([][][][]float32)
		if len(got[0][0]) != f[0]*H || len(got[0][0][0]) != f[1]*W {
			t.Fatalf("f=%v: output %dx%d, want %dx%d", f, len(got[0][0]), len(got[0][0][0]), f[0]*H, f[1]*W)
		}
		for b := range B {
			for c := range Cout {
				for i := range f[0] * H {
					for j := range f[1] * W {
						k := c*sub + (i%f[0])*f[1] + j%f[1] // kernel tap (i%f0, j%f1) of output channel c
						want := float64(bias[k])
						for ci := range Cin {
							want += float64(w[k][ci][0][0]) * float64(xv[b][ci][i/f[0]][j/f[1]])
						}
						if d := math.Abs(want - float64(got[b][c][i][j])); d > 1e-5 {
							t.Fatalf("f=%v: out[%d,%d,%d,%d]=%g want %g", f, b, c, i, j, got[b][c][i][j], want)
						}
					}
				}
			}
		}
	}
}

func TestInstanceNorm(t *testing.T) {
	backend := goBackend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	x := randTensor(rng, 2, 3, 5, 7)
	out, err := context.ExecOnce(backend, context.New(), func(ctx *context.Context, x *graph.Node) *graph.Node {
		return InstanceNorm(ctx, graph.AddScalar(graph.MulScalar(x, 3), 2), 1e-5)
	}, x)
	if err != nil {
		t.Fatal(err)
	}
	v := out.Value().([][][][]float32)
	for b := range 2 {
		for c := range 3 {
			var s, s2 float64
			for _, row := range v[b][c] {
				for _, e := range row {
					s += float64(e)
					s2 += float64(e) * float64(e)
				}
			}
			mean, vr := s/35, s2/35-(s/35)*(s/35)
			if math.Abs(mean) > 1e-5 || math.Abs(vr-1) > 1e-3 {
				t.Errorf("b%d c%d: mean %g var %g", b, c, mean, vr)
			}
		}
	}
}

// refDiceCE is a direct float64 implementation of DiceCELoss for [B, K, N] logits.
func refDiceCE(logits [][][]float32, labels [][]int32, k int) float64 {
	var ce float64
	inter, sp, sy := make([]float64, k), make([]float64, k), make([]float64, k)
	n := 0
	for b := range logits {
		for v := range logits[b][0] {
			mx := math.Inf(-1)
			for c := range k {
				mx = math.Max(mx, float64(logits[b][c][v]))
			}
			var z float64
			for c := range k {
				z += math.Exp(float64(logits[b][c][v]) - mx)
			}
			for c := range k {
				p := math.Exp(float64(logits[b][c][v])-mx) / z
				y := 0.0
				if labels[b][v] == int32(c) {
					y = 1
					ce -= math.Log(p)
				}
				inter[c] += p * y
				sp[c] += p
				sy[c] += y
			}
			n++
		}
	}
	var dice float64
	for c := 1; c < k; c++ {
		dice += (2*inter[c] + DiceSmooth) / (sp[c] + sy[c] + DiceSmooth)
	}
	return ce/float64(n) + 1 - dice/float64(k-1)
}

func TestDiceCELossMatchesReference(t *testing.T) {
	backend := goBackend(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const B, K, N = 2, 3, 10
	logits := randTensor(rng, B, K, N)
	lab := make([]int32, B*N)
	for i := range lab {
		lab[i] = int32(rng.IntN(K))
	}
	labels := tensors.FromFlatDataAndDimensions(lab, B, 1, N)
	out, err := context.ExecOnce(backend, context.New(), func(ctx *context.Context, l, x *graph.Node) *graph.Node {
		return DiceCELoss(l, x, K)
	}, labels, logits)
	if err != nil {
		t.Fatal(err)
	}
	lv := labels.Value().([][][]int32)
	flat := [][]int32{lv[0][0], lv[1][0]}
	want := refDiceCE(logits.Value().([][][]float32), flat, K)
	if got := float64(out.Value().(float32)); math.Abs(got-want) > 1e-5 {
		t.Fatalf("DiceCELoss = %g, reference %g", got, want)
	}

	// Confident correct logits give a loss near 0; HardDice is 1 for every class.
	perfect := make([]float32, B*K*N)
	for b := range B {
		for v := range N {
			perfect[(b*K+int(lab[b*N+v]))*N+v] = 30
		}
	}
	pt := tensors.FromFlatDataAndDimensions(perfect, B, K, N)
	outs, err := context.ExecOnceN(backend, context.New(), func(ctx *context.Context, l, x *graph.Node) []*graph.Node {
		return []*graph.Node{DiceCELoss(l, x, K), HardDice(l, x, K)}
	}, labels, pt)
	if err != nil {
		t.Fatal(err)
	}
	if l := outs[0].Value().(float32); l > 1e-4 {
		t.Errorf("loss of perfect logits = %g", l)
	}
	for _, d := range outs[1].Value().([]float32) {
		if d != 1 {
			t.Errorf("hard dice of perfect logits %v", outs[1].Value())
		}
	}
}

func TestDeepSupervisionWeights(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []float64
	}{
		{1, []float64{1}},
		{2, []float64{1, 0}},
		{3, []float64{2.0 / 3, 1.0 / 3, 0}},
	} {
		got := DeepSupervisionWeights(tc.n)
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("n=%d: %v want %v", tc.n, got, tc.want)
			}
		}
	}
}

func TestFLOPs(t *testing.T) {
	// The design benchmark: 3D U-Net base 16, 4 levels, batch 2, 40x56x40, 57.7 GFLOP per step.
	cfg := Config{Dims: 3, InChannels: 1, NumClasses: 3, BaseFilters: 16, MaxFilters: 320, Levels: 4}
	got := FLOPs(cfg, []int{40, 56, 40}, 2) / 1e9
	if math.Abs(got-57.7) > 0.2 {
		t.Errorf("FLOPs = %.2f GFLOP, want about 57.7", got)
	}
	if r := FLOPs(cfg, []int{40, 56, 40}, 4) / FLOPs(cfg, []int{40, 56, 40}, 2); r != 2 {
		t.Errorf("FLOPs not linear in batch: ratio %g", r)
	}
}

func tensorsShape(dims []int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
