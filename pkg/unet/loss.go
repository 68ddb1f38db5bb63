package unet

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// DiceSmooth is the smoothing term of the soft Dice (nnU-Net's 1e-5).
const DiceSmooth = 1e-5

// OneHot turns labels [B, spatial...] or [B, 1, spatial...] (any numeric dtype holding class
// indices) into a channels-first one-hot [B, numClasses, spatial...] of the given dtype.
// Labels outside [0, numClasses) give an all-zero vector.
func OneHot(labels *graph.Node, numClasses int, spatialDims int, dtype dtypes.DType) *graph.Node {
	switch labels.Rank() {
	case spatialDims + 1:
		labels = graph.InsertAxes(labels, 1)
	case spatialDims + 2:
		if labels.Shape().Dimensions[1] != 1 {
			panic(fmt.Errorf("unet: labels must be [B, spatial...] or [B, 1, spatial...], got %s", labels.Shape()))
		}
	default:
		panic(fmt.Errorf("unet: labels rank %d does not match %d spatial dims (shape %s)", labels.Rank(), spatialDims, labels.Shape()))
	}
	g := labels.Graph()
	idx := graph.ConvertDType(labels, dtypes.Int32)
	classes := graph.Iota(g, shapes.Make(dtypes.Int32, channelShape(numClasses, spatialDims)...), 1)
	return graph.ConvertDType(graph.Equal(idx, classes), dtype)
}

// DiceCELoss is nnU-Net's training loss: cross-entropy + (1 - soft Dice), weighted 1:1.
//
// With p = softmax(logits) over the class axis and y the one-hot labels, the soft Dice of a
// foreground class k is computed over the whole batch ("batch Dice"):
//
//	dice_k = (2*sum(p_k*y_k) + s) / (sum(p_k) + sum(y_k) + s),  s = DiceSmooth,
//
// averaged over k = 1..numClasses-1 (background excluded). The cross-entropy is the mean over
// voxels of -sum_k y_k*log p_k. logits are [B, numClasses, spatial...], labels [B, (1,) spatial...].
// (nnU-Net adds -dice rather than 1-dice: the same gradients, shifted so that the loss is >= 0.)
func DiceCELoss(labels, logits *graph.Node, numClasses int) *graph.Node {
	if logits.Rank() < 3 || logits.Shape().Dimensions[1] != numClasses {
		panic(fmt.Errorf("unet: logits must be [B, %d, spatial...], got %s", numClasses, logits.Shape()))
	}
	spatial := logits.Rank() - 2
	y := OneHot(labels, numClasses, spatial, logits.DType())
	if !equalInts(y.Shape().Dimensions[2:], logits.Shape().Dimensions[2:]) || y.Shape().Dimensions[0] != logits.Shape().Dimensions[0] {
		panic(fmt.Errorf("unet: labels %s do not match logits %s", labels.Shape(), logits.Shape()))
	}
	logP := graph.LogSoftmax(logits, 1)
	ce := graph.Neg(graph.ReduceAllMean(graph.ReduceSum(graph.Mul(y, logP), 1)))

	p := graph.Exp(logP)
	// Reduce over batch and spatial axes, keep classes.
	axes := []int{0}
	for i := range spatial {
		axes = append(axes, i+2)
	}
	inter := graph.ReduceSum(graph.Mul(p, y), axes...)
	denom := graph.Add(graph.ReduceSum(p, axes...), graph.ReduceSum(y, axes...))
	dice := graph.Div(graph.AddScalar(graph.MulScalar(inter, 2), DiceSmooth), graph.AddScalar(denom, DiceSmooth))
	fg := graph.Slice(dice, graph.AxisRange(1))
	meanDice := graph.ReduceAllMean(fg)
	return graph.Add(ce, graph.OneMinus(meanDice))
}

// DeepSupervisionWeights returns nnU-Net's loss weights for n heads (finest first): 1/2^i,
// the coarsest head weighted 0 when n > 1, normalised to sum 1.
func DeepSupervisionWeights(n int) []float64 {
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		if n > 1 && i == n-1 {
			continue
		}
		w[i] = 1 / float64(int(1)<<i)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// DeepSupervisionLoss is the weighted sum of DiceCELoss over the heads returned by BuildAll (finest
// first); the labels of head i are the full-resolution labels subsampled to its size (nearest
// neighbour, stride = full size / head size per axis).
func DeepSupervisionLoss(labels *graph.Node, heads []*graph.Node, numClasses int) *graph.Node {
	w := DeepSupervisionWeights(len(heads))
	var total *graph.Node
	spatial := heads[0].Rank() - 2
	for i, h := range heads {
		if w[i] == 0 {
			continue
		}
		l := labels
		if i > 0 {
			specs := make([]graph.SliceAxisSpec, labels.Rank())
			first := labels.Rank() - spatial
			for a := range specs {
				specs[a] = graph.AxisRange()
				if a >= first {
					specs[a] = graph.AxisRange().Stride(labels.Shape().Dimensions[a] / h.Shape().Dimensions[a-first+2])
				}
			}
			l = graph.Slice(labels, specs...)
		}
		term := graph.MulScalar(DiceCELoss(l, h, numClasses), w[i])
		if total == nil {
			total = term
		} else {
			total = graph.Add(total, term)
		}
	}
	return total
}

// HardDice returns the Dice of argmax(logits) against labels for each foreground class, pooled over
// the batch: a [numClasses-1] vector. A class absent from both prediction and labels scores 1.
func HardDice(labels, logits *graph.Node, numClasses int) *graph.Node {
	spatial := logits.Rank() - 2
	dtype := logits.DType()
	y := OneHot(labels, numClasses, spatial, dtype)
	pred := OneHot(graph.ArgMax(logits, 1, dtypes.Int32), numClasses, spatial, dtype)
	axes := []int{0}
	for i := range spatial {
		axes = append(axes, i+2)
	}
	inter := graph.ReduceSum(graph.Mul(pred, y), axes...)
	denom := graph.Add(graph.ReduceSum(pred, axes...), graph.ReduceSum(y, axes...))
	g := logits.Graph()
	one := graph.ScalarOne(g, dtype)
	dice := graph.Where(graph.GreaterThan(denom, graph.ScalarZero(g, dtype)),
		graph.Div(graph.MulScalar(inter, 2), graph.Max(denom, one)),
		graph.OnesLike(denom))
	return graph.Slice(dice, graph.AxisRange(1))
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
