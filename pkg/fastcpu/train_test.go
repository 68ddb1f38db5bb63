package fastcpu

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	timage "github.com/gomlx/gomlx/pkg/core/tensors/images"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// TestTrainTinyConvNet trains a tiny 3D conv net (strided conv down, 1x1 conv up + reshape/transpose,
// leaky ReLU, instance-norm-like normalisation) with Adam through GoMLX's Trainer on fastcpu and checks
// that the loss goes down.
func TestTrainTinyConvNet(t *testing.T) {
	backend := newBackend(t)
	ctx := context.New()
	ctx.SetParam(optimizers.ParamLearningRate, 0.01)
	conv := func(ctx *context.Context, x *graph.Node, out, kernel, stride int) *graph.Node {
		in := x.Shape().Dimensions[1]
		kDims := []int{out, in}
		for range x.Rank() - 2 {
			kDims = append(kDims, kernel)
		}
		k := ctx.WithInitializer(initializers.RandomNormalFn(ctx, 0.3)).
			VariableWithShape("kernel", shapes.Make(dtypes.Float32, kDims...)).ValueGraph(x.Graph())
		c := graph.Convolve(x, k).ChannelsAxis(timage.ChannelsFirst).PadSame()
		if stride > 1 {
			c = c.Strides(stride)
		}
		return c.Done()
	}
	norm := func(x *graph.Node) *graph.Node {
		axes := []int{2, 3, 4}
		mean := graph.ReduceAndKeep(x, graph.ReduceMean, axes...)
		c := graph.Sub(x, mean)
		v := graph.ReduceAndKeep(graph.Square(c), graph.ReduceMean, axes...)
		return graph.Div(c, graph.Sqrt(graph.AddScalar(v, 1e-5)))
	}
	leaky := func(x *graph.Node) *graph.Node { return graph.Max(x, graph.MulScalar(x, 0.01)) }
	model := func(ctx *context.Context, spec any, inputs []*graph.Node) []*graph.Node {
		x := inputs[0] // [B, 1, 4, 4, 4]
		h := leaky(norm(conv(ctx.In("c1"), x, 4, 3, 1)))
		d := leaky(norm(conv(ctx.In("down"), h, 8, 3, 2))) // [B, 8, 2, 2, 2]
		u := conv(ctx.In("up"), d, 4*8, 1, 1)              // [B, 4*8, 2,2,2] -> [B,4,4,4,4]
		b := u.Shape().Dimensions[0]
		u = graph.Reshape(u, b, 4, 2, 2, 2, 2, 2, 2)          // [B, C, kd, kh, kw, D, H, W]
		u = graph.TransposeAllDims(u, 0, 1, 5, 2, 6, 3, 7, 4) // [B, C, D, kd, H, kh, W, kw]
		u = graph.Reshape(u, b, 4, 4, 4, 4)
		y := conv(ctx.In("head"), graph.Concatenate([]*graph.Node{h, u}, 1), 1, 3, 1)
		return []*graph.Node{y}
	}
	r := rand.New(rand.NewPCG(5, 6))
	x := randFlat(r, 2*64)
	y := make([]float32, len(x))
	for i := range x {
		y[i] = 0.5 * x[i]
	}
	trainer := train.NewTrainer(backend, ctx, model, losses.MeanSquaredError,
		optimizers.Adam().Done(), nil, nil)
	var first, last float32
	for step := range 30 {
		m, err := trainer.TrainStep(nil, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, 2, 1, 4, 4, 4)},
			[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, 2, 1, 4, 4, 4)})
		if err != nil {
			t.Fatal(err)
		}
		loss := tensors.MustCopyFlatData[float32](m[0])[0]
		if step == 0 {
			first = loss
		}
		last = loss
	}
	if !(last < 0.5*first) {
		t.Errorf("loss did not go down enough: first %g, last %g", first, last)
	}
}
