package unet

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestMixedPrecisionBF16 runs the same U-Net weights in float32 and in bf16 mixed precision: the
// variables stay float32, the logits come back as float32, and logits and gradients agree with the
// float32 ones to bfloat16 accuracy (but not exactly: the convolutions did run in bfloat16).
func TestMixedPrecisionBF16(t *testing.T) {
	b, err := backends.NewWithConfig("fastcpu")
	if err != nil {
		t.Skip("fastcpu backend unavailable:", err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const B, S, K = 2, 8, 3
	x := randTensor(rng, B, 1, S, S, S)
	ys := make([]int32, B*S*S*S)
	for i := range ys {
		ys[i] = int32(rng.IntN(K))
	}
	y := tensors.FromFlatDataAndDimensions(ys, B, 1, S, S, S)
	f32 := Config{Dims: 3, InChannels: 1, NumClasses: K, BaseFilters: 4, MaxFilters: 8, Levels: 2, DeepSupervision: true}
	bf16 := f32
	bf16.Precision = PrecisionBF16

	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(9))
	run := func(cfg Config) (logits []float32, grads [][]float32) {
		var vars []*context.Variable
		outs := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, x, y *graph.Node) []*graph.Node {
			heads := BuildAll(ctx, cfg, x)
			if vars == nil {
				for v := range ctx.IterVariables() {
					if v.Trainable {
						vars = append(vars, v)
					}
				}
			}
			nodes := make([]*graph.Node, len(vars))
			for i, v := range vars {
				nodes[i] = v.ValueGraph(x.Graph())
			}
			return append([]*graph.Node{heads[0]}, graph.Gradient(DeepSupervisionLoss(y, heads, K), nodes...)...)
		}).MustExec(x, y)
		if outs[0].DType() != dtypes.Float32 {
			t.Fatalf("%q logits are %s, want float32", cfg.Precision, outs[0].DType())
		}
		for _, v := range vars {
			if v.DType() != dtypes.Float32 {
				t.Errorf("%q variable %s is %s, want float32", cfg.Precision, v.ScopeAndName(), v.DType())
			}
		}
		for _, g := range outs[1:] {
			grads = append(grads, tensors.MustCopyFlatData[float32](g))
		}
		return tensors.MustCopyFlatData[float32](outs[0]), grads
	}
	// Create the variables with a float32 pass, then rerun both on the same weights.
	_ = context.MustNewExec(b, ctx, func(ctx *context.Context, x *graph.Node) *graph.Node { return BuildAll(ctx, f32, x)[0] }).MustExec1(x)
	l32, g32 := run(f32)
	l16, g16 := run(bf16)

	var maxDiff, maxAbs float64
	for i := range l32 {
		maxDiff = max(maxDiff, math.Abs(float64(l32[i]-l16[i])))
		maxAbs = max(maxAbs, math.Abs(float64(l32[i])))
	}
	if maxDiff == 0 {
		t.Errorf("bf16 logits equal the float32 ones exactly: the network did not compute in bfloat16")
	}
	if maxDiff > 0.05*maxAbs {
		t.Errorf("bf16 logits differ from float32 by up to %g (largest logit %g)", maxDiff, maxAbs)
	}
	// Gradient direction over all variables.
	var dot, n32, n16 float64
	for i := range g32 {
		for j := range g32[i] {
			a, c := float64(g32[i][j]), float64(g16[i][j])
			dot, n32, n16 = dot+a*c, n32+a*a, n16+c*c
		}
	}
	if cos := dot / math.Sqrt(n32*n16); !(cos > 0.95) {
		t.Errorf("bf16 gradients point elsewhere than float32 ones: cosine %.4f", cos)
	}
	t.Logf("logits max |bf16-f32| %.3g (max |logit| %.3g), gradient cosine %.5f", maxDiff, maxAbs, dot/math.Sqrt(n32*n16))
}

func TestPrecisionFor(t *testing.T) {
	for _, tc := range []struct{ want, backend, got string }{
		{PrecisionBF16, "xla", PrecisionBF16},
		{PrecisionBF16, "FastCPU (fastcpu)", PrecisionFloat32},
		{PrecisionBF16, "go", PrecisionFloat32},
		{PrecisionFloat32, "xla", PrecisionFloat32},
		{"", "go", ""},
	} {
		got, note := PrecisionFor(tc.want, tc.backend)
		if got != tc.got {
			t.Errorf("PrecisionFor(%q, %q) = %q, want %q", tc.want, tc.backend, got, tc.got)
		}
		if (got != tc.want) != (note != "") || (note != "" && !strings.Contains(note, tc.backend)) {
			t.Errorf("PrecisionFor(%q, %q) note %q", tc.want, tc.backend, note)
		}
	}
	if err := (Config{Dims: 3, InChannels: 1, NumClasses: 2, BaseFilters: 4, MaxFilters: 8, Levels: 2, ConvsPerLevel: 2, Precision: "fp8"}).Validate(); err == nil || !strings.Contains(err.Error(), "fp8") {
		t.Errorf("Validate accepted precision fp8: %v", err)
	}
}
