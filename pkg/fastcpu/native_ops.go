package fastcpu

import (
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Disabling native elementwise ops (all run on SimpleGo) is possible with FASTCPU_ELEMENTWISE=0,
// for comparisons.
var nativeElementwise = envBool("FASTCPU_ELEMENTWISE", true)

var binOps = map[string]binOp{"Add": opAdd, "Sub": opSub, "Mul": opMul, "Div": opDiv, "Max": opMax, "Min": opMin}
var cmpOps = map[string]cmpOp{"GreaterThan": cmpGT, "GreaterOrEqual": cmpGE, "LessThan": cmpLT, "LessOrEqual": cmpLE,
	"Equal": cmpEQ, "NotEqual": cmpNE}
var unaryOps = map[string]unaryOp{"Neg": opNeg, "Exp": opExp, "Log": opLog, "Sqrt": opSqrt, "Abs": opAbs}

// attachNative sets a native kernel on parameter-free float32 elementwise calls.
func attachNative(c *call) {
	if !nativeElementwise || len(c.outputs) != 1 {
		return
	}
	out := c.outputs[0].shape
	if out.Size() == 0 {
		return
	}
	allF32 := func(vs ...*value) bool {
		for _, v := range vs {
			if v.shape.DType != dtypes.Float32 {
				return false
			}
		}
		return true
	}
	in := c.inputs
	dims := out.Dimensions
	switch {
	case len(in) == 2 && allF32(in...) && out.DType == dtypes.Float32:
		if op, ok := binOps[c.name]; ok {
			c.rebuild = func(st [][]int) nativeFn { return nativeBinary(op, dims, st) }
		}
	case len(in) == 2 && allF32(in...) && out.DType == dtypes.Bool:
		if op, ok := cmpOps[c.name]; ok {
			c.rebuild = func(st [][]int) nativeFn { return nativeCompare(op, dims, st) }
		}
	case len(in) == 1 && allF32(in[0]) && out.DType == dtypes.Float32:
		if op, ok := unaryOps[c.name]; ok {
			c.native = nativeUnary(op, out)
		}
	case c.name == "Where" && len(in) == 3 && in[0].shape.DType == dtypes.Bool && allF32(in[1], in[2]):
		c.rebuild = func(st [][]int) nativeFn { return nativeWhere(dims, st) }
	}
	if c.rebuild != nil {
		st := make([][]int, len(in))
		for i, v := range in {
			st[i] = broadcastStrides(v.shape, dims)
		}
		c.native = c.rebuild(st)
	}
}

// foldedBroadcasts counts operands rewired by foldBroadcasts (for tests).
var foldedBroadcasts atomic.Int64

// foldBroadcasts rewires native elementwise calls that read the output of a native BroadcastInDim
// to read its (smaller) source with broadcast strides instead, so the broadcast tensor is never
// materialised when nothing else needs it.
func (b *Builder) foldBroadcasts() {
	for _, c := range b.calls {
		if c.rebuild == nil {
			continue
		}
		dims := c.outputs[0].shape.Dimensions
		changed := false
		st := make([][]int, len(c.inputs))
		for i, v := range c.inputs {
			st[i] = broadcastStrides(v.shape, dims)
			bc := v.call
			if bc.bcastAxes == nil || bc.native == nil || v.shape.Rank() != len(dims) {
				continue
			}
			src := bc.inputs[0]
			inner := bcastInDimStrides(src.shape, v.shape, bc.bcastAxes)
			for a := range dims {
				if st[i][a] == 0 && dims[a] != 1 {
					inner[a] = 0
				}
			}
			st[i] = inner
			c.inputs[i] = src
			changed = true
			foldedBroadcasts.Add(1)
		}
		if changed {
			c.native = c.rebuild(st)
		}
	}
}

// BroadcastInDim implements backends.Builder (native for float32).
func (b *Builder) BroadcastInDim(x backends.Op, outputShape shapes.Shape, broadcastAxes []int) (backends.Op, error) {
	axes := slices.Clone(broadcastAxes)
	outs, err := b.record("BroadcastInDim", []backends.Op{x}, 1, func(sb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		o, err := sb.BroadcastInDim(in[0], outputShape, axes)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	v := outs[0].(*value)
	if nativeElementwise && v.shape.DType == dtypes.Float32 && v.shape.Size() > 0 {
		v.call.native = nativeBroadcastInDim(v.call.inputs[0].shape, v.shape, axes)
		v.call.bcastAxes = axes
	}
	return v, nil
}

// Transpose implements backends.Builder (native for float32).
func (b *Builder) Transpose(x backends.Op, permutation ...int) (backends.Op, error) {
	perm := slices.Clone(permutation)
	outs, err := b.record("Transpose", []backends.Op{x}, 1, func(sb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		o, err := sb.Transpose(in[0], perm...)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	v := outs[0].(*value)
	if nativeElementwise && v.shape.DType == dtypes.Float32 && v.shape.Size() > 0 {
		v.call.native = nativeTranspose(v.call.inputs[0].shape, perm)
	}
	return v, nil
}

func (b *Builder) reduce(name string, isMax bool, x backends.Op, axes []int) (backends.Op, error) {
	axes = slices.Clone(axes)
	outs, err := b.record(name, []backends.Op{x}, 1, func(sb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		var o backends.Op
		var err error
		if isMax {
			o, err = sb.ReduceMax(in[0], axes...)
		} else {
			o, err = sb.ReduceSum(in[0], axes...)
		}
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	v := outs[0].(*value)
	xs := v.call.inputs[0].shape
	if nativeElementwise && xs.DType == dtypes.Float32 && xs.Size() > 0 && v.shape.Size() > 0 {
		v.call.native = nativeReduce(isMax, xs, axes)
	}
	return v, nil
}

// ReduceSum implements backends.Builder (native for float32).
func (b *Builder) ReduceSum(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce("ReduceSum", false, x, axes)
}

// ReduceMax implements backends.Builder (native for float32).
func (b *Builder) ReduceMax(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce("ReduceMax", true, x, axes)
}
