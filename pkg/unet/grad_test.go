package unet

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	_ "github.com/msdkit/msdkit/pkg/fastcpu"
)

// TestGradientsMatchFiniteDifferences checks the gradients of DiceCELoss through the whole U-Net
// (deep supervision included) against central finite differences, in float64, on the fastcpu
// backend (SimpleGo alone has no convolution gradients).
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	b, err := backends.NewWithConfig("fastcpu")
	if err != nil {
		t.Skip("fastcpu backend unavailable:", err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const B, S, K = 2, 8, 3
	xs := make([]float64, B*S*S)
	ys := make([]int32, B*S*S)
	for i := range xs {
		xs[i] = rng.NormFloat64()
		ys[i] = int32(rng.IntN(K))
	}
	xt := tensors.FromFlatDataAndDimensions(xs, B, 1, S, S)
	yt := tensors.FromFlatDataAndDimensions(ys, B, 1, S, S)
	for _, cfg := range []Config{
		{Dims: 2, InChannels: 1, NumClasses: K, BaseFilters: 2, MaxFilters: 4, Levels: 2, DeepSupervision: true},
		// Anisotropic: pooled along x only, 1x3 kernels at level 0.
		{Dims: 2, InChannels: 1, NumClasses: K, BaseFilters: 2, MaxFilters: 4, DeepSupervision: true,
			PoolKernels: [][]int{{1, 2}}, ConvKernels: [][]int{{1, 3}, {3, 3}}},
	} {
		checkGradients(t, b, cfg, xt, yt)
	}
}

func checkGradients(t *testing.T, b backends.Backend, cfg Config, xt, yt *tensors.Tensor) {
	const K = 3
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(5))
	lossFn := func(ctx *context.Context, x, y *graph.Node) *graph.Node {
		return DeepSupervisionLoss(y, BuildAll(ctx, cfg, x), K)
	}
	lossExec := context.MustNewExec(b, ctx, lossFn)
	_ = lossExec.MustExec1(xt, yt)
	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable && v.DType() == dtypes.Float64 {
			vars = append(vars, v)
		}
	}
	grads := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, x, y *graph.Node) []*graph.Node {
		nodes := make([]*graph.Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.ValueGraph(x.Graph())
		}
		return graph.Gradient(lossFn(ctx, x, y), nodes...)
	}).MustExec(xt, yt)
	loss := func() float64 { return lossExec.MustExec1(xt, yt).Value().(float64) }
	checked := 0
	for i, v := range vars {
		g := tensors.MustCopyFlatData[float64](grads[i])
		val := tensors.MustCopyFlatData[float64](v.MustValue())
		set := func() {
			v.MustSetValue(tensors.FromFlatDataAndDimensions(append([]float64(nil), val...), v.Shape().Dimensions...))
		}
		for _, j := range []int{0, len(val) / 2, len(val) - 1} {
			orig := val[j]
			const eps = 1e-6
			val[j] = orig + eps
			set()
			lp := loss()
			val[j] = orig - eps
			set()
			lm := loss()
			val[j] = orig
			set()
			num := (lp - lm) / (2 * eps)
			if math.Abs(num-g[j]) > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("%+v: %s[%d]: gradient %.8g, finite difference %.8g", cfg, v.ScopeAndName(), j, g[j], num)
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("only %d gradient entries checked", checked)
	}
}
