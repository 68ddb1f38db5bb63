package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers/cosineschedule"
)

// momentumScope holds the SGD velocity buffers, mirroring the variables' scopes.
const momentumScope = "sgd_momentum"

// nesterov is SGD with Nesterov momentum and L2 weight decay, as PyTorch's SGD(nesterov=True) used by
// nnU-Net: g = grad + wd*w; b = mu*b + g; w = w - lr*(g + mu*b).
type nesterov struct {
	lr, momentum, weightDecay float64
}

// UpdateGraph implements optimizers.Interface.
func (o *nesterov) UpdateGraph(ctx *context.Context, g *graph.Graph, loss *graph.Node) {
	if !loss.Shape().IsScalar() {
		panic(fmt.Errorf("train: optimizer needs a scalar loss, got %s", loss.Shape()))
	}
	grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
	dtype := loss.DType()
	lr := optimizers.LearningRateVar(ctx, dtype, o.lr).ValueGraph(g)
	_ = optimizers.IncrementGlobalStepGraph(ctx, g, dtypes.Int64)

	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	if len(vars) != len(grads) {
		panic(fmt.Errorf("train: %d gradients for %d trainable variables", len(grads), len(vars)))
	}
	zeros := func(g *graph.Graph, s shapes.Shape) *graph.Node { return graph.Zeros(g, s) }
	for i, v := range vars {
		w := v.ValueGraph(g)
		grad := grads[i]
		if o.weightDecay > 0 {
			grad = graph.Add(grad, graph.MulScalar(w, o.weightDecay))
		}
		bufVar := ctx.InAbsPath(strings.TrimSuffix(context.RootScope+optimizers.Scope+"/"+momentumScope+v.Scope(), "/")).
			Checked(false).WithInitializer(zeros).VariableWithShape(v.Name(), v.Shape()).SetTrainable(false)
		buf := graph.Add(graph.MulScalar(bufVar.ValueGraph(g), o.momentum), grad)
		bufVar.SetValueGraph(buf)
		step := graph.Add(grad, graph.MulScalar(buf, o.momentum))
		lrv := lr
		if lrv.DType() != w.DType() {
			lrv = graph.ConvertDType(lrv, w.DType())
		}
		v.SetValueGraph(graph.Sub(w, graph.Mul(step, lrv)))
	}
}

// Clear implements optimizers.Interface: it deletes the velocity buffers.
func (o *nesterov) Clear(ctx *context.Context) error {
	return ctx.InAbsPath(context.RootScope + optimizers.Scope + "/" + momentumScope).DeleteVariablesInScope()
}

// newOptimizer returns the optimizer named in opts.
func newOptimizer(ctx *context.Context, opts Options) optimizers.Interface {
	switch opts.Optimizer {
	case "adam":
		return optimizers.Adam().FromContext(ctx).LearningRate(opts.LearningRate).Done()
	case "adamw":
		return optimizers.Adam().FromContext(ctx).LearningRate(opts.LearningRate).WeightDecay(opts.WeightDecay).Done()
	default:
		return &nesterov{lr: opts.LearningRate, momentum: opts.Momentum, weightDecay: opts.WeightDecay}
	}
}

// scheduleGraph sets the learning-rate variable for the current (pre-increment) global step.
// It is called while building the training graph.
func scheduleGraph(ctx *context.Context, g *graph.Graph, dtype dtypes.DType, opts Options) {
	switch opts.Schedule {
	case "poly":
		step := graph.ConvertDType(optimizers.GetGlobalStepVar(ctx).ValueGraph(g), dtype)
		frac := graph.DivScalar(step, float64(opts.Steps))
		frac = graph.Min(frac, graph.ScalarOne(g, dtype))
		lr := graph.MulScalar(graph.Pow(graph.OneMinus(frac), graph.Scalar(g, dtype, opts.PolyExponent)), opts.LearningRate)
		optimizers.LearningRateVar(ctx, dtype, opts.LearningRate).SetValueGraph(lr)
	case "cosine":
		cosineschedule.New(ctx, g, dtype).LearningRate(opts.LearningRate).PeriodSteps(opts.Steps).Done()
	}
}

// PolyLR is the poly schedule evaluated in Go (for logs and tests).
func PolyLR(lr float64, step, steps int, exponent float64) float64 {
	f := math.Min(float64(step)/float64(steps), 1)
	return lr * math.Pow(1-f, exponent)
}
