package fastcpu

import (
	"math"
	"runtime"
	"unsafe"

	"github.com/msdkit/msdkit/pkg/parallel"

	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Native elementwise ops, broadcasts and reductions (float32; comparisons produce bool).
//
// Every op is lowered to a walk over "rows": the output's axes are collapsed where all operands are
// contiguous (or all broadcast) across them, leaving an innermost run of length L along which each
// operand advances with step 1 or 0 (broadcast). Rows, or pieces of long rows, are spread over
// GOMAXPROCS goroutines; the per-row kernels are plain loops the compiler keeps tight.

// rowPlan is the collapsed iteration space of an elementwise op.
type rowPlan struct {
	outer   []int   // collapsed outer dims (row index space)
	L       int     // inner run length
	strides [][]int // per operand: strides of the outer dims
	steps   []int   // per operand: step along the inner run (0 or 1)
	size    int
}

// newRowPlan builds the plan for output dims and per-operand strides (0 = broadcast axis).
func newRowPlan(dims []int, opStrides [][]int) rowPlan {
	// Drop size-1 axes.
	var d []int
	st := make([][]int, len(opStrides))
	for a, n := range dims {
		if n == 1 {
			continue
		}
		d = append(d, n)
		for i := range opStrides {
			st[i] = append(st[i], opStrides[i][a])
		}
	}
	// Collapse axis a into a+1 when every operand is contiguous across them.
	for a := len(d) - 2; a >= 0; a-- {
		ok := true
		for i := range st {
			if st[i][a] != st[i][a+1]*d[a+1] {
				ok = false
				break
			}
		}
		if ok {
			d[a] *= d[a+1]
			d = append(d[:a+1], d[a+2:]...)
			for i := range st {
				st[i][a] = st[i][a+1]
				st[i] = append(st[i][:a+1], st[i][a+2:]...)
			}
		}
	}
	p := rowPlan{size: prodInts(d)}
	if len(d) == 0 {
		p.L = 1
		p.steps = make([]int, len(st))
		p.strides = make([][]int, len(st))
		return p
	}
	last := len(d) - 1
	p.L = d[last]
	p.outer = d[:last]
	p.steps = make([]int, len(st))
	p.strides = make([][]int, len(st))
	for i := range st {
		p.steps[i] = st[i][last]
		p.strides[i] = st[i][:last]
	}
	return p
}

const (
	minParallelElems = 1 << 15
	pieceElems       = 1 << 14
)

// run calls fn(offs, n) for every run of n elements: offs[i] is operand i's offset (operand 0 is
// conventionally the output). Runs along the inner axis use each operand's steps.
func (p *rowPlan) run(fn func(offs []int, n int)) {
	rows := prodInts(p.outer)
	pieces := 1
	if p.L > pieceElems {
		pieces = (p.L + pieceElems - 1) / pieceElems
	}
	total := rows * pieces
	workers := runtime.GOMAXPROCS(0)
	if p.size < minParallelElems {
		workers = 1
	}
	pieceLen := (p.L + pieces - 1) / pieces
	parallel.For(total, workers, func(i0, i1 int) {
		offs := make([]int, len(p.strides))
		idx := make([]int, len(p.outer))
		for it := i0; it < i1; it++ {
			row, piece := it/pieces, it%pieces
			rem := row
			for d := len(p.outer) - 1; d >= 0; d-- {
				idx[d] = rem % p.outer[d]
				rem /= p.outer[d]
			}
			start := piece * pieceLen
			n := min(pieceLen, p.L-start)
			for i := range offs {
				o := start * p.steps[i]
				for d, x := range idx {
					o += x * p.strides[i][d]
				}
				offs[i] = o
			}
			fn(offs, n)
		}
	})
}

// broadcastStrides returns the strides of an operand of shape s (same rank as out, dims equal or 1;
// or a scalar) as seen from the output dims.
func broadcastStrides(s shapes.Shape, out []int) []int {
	st := make([]int, len(out))
	if s.Rank() == 0 {
		return st
	}
	acc := 1
	for a := s.Rank() - 1; a >= 0; a-- {
		if s.Dimensions[a] != 1 || out[a] == 1 {
			st[a] = acc
		}
		acc *= s.Dimensions[a]
	}
	return st
}

func contiguousStrides(dims []int) []int {
	st := make([]int, len(dims))
	acc := 1
	for a := len(dims) - 1; a >= 0; a-- {
		st[a] = acc
		acc *= dims[a]
	}
	return st
}

// binOp identifies a native float32 binary op.
type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opMax
	opMin
)

// binRow computes out[i] = a[i*sa] op b[i*sb] for i < n (sa, sb in {0, 1}).
func binRow(op binOp, out, a, b []float32, sa, sb int) {
	n := len(out)
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = a[i] + b[i]
			}
		case opSub:
			for i := range out {
				out[i] = a[i] - b[i]
			}
		case opMul:
			for i := range out {
				out[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range out {
				out[i] = a[i] / b[i]
			}
		case opMax:
			for i := range out {
				out[i] = max32(a[i], b[i])
			}
		case opMin:
			for i := range out {
				out[i] = min32(a[i], b[i])
			}
		}
	case sa == 1:
		a = a[:n]
		y := b[0]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = a[i] + y
			}
		case opSub:
			for i := range out {
				out[i] = a[i] - y
			}
		case opMul:
			for i := range out {
				out[i] = a[i] * y
			}
		case opDiv:
			for i := range out {
				out[i] = a[i] / y
			}
		case opMax:
			for i := range out {
				out[i] = max32(a[i], y)
			}
		case opMin:
			for i := range out {
				out[i] = min32(a[i], y)
			}
		}
	case sb == 1:
		b = b[:n]
		x := a[0]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = x + b[i]
			}
		case opSub:
			for i := range out {
				out[i] = x - b[i]
			}
		case opMul:
			for i := range out {
				out[i] = x * b[i]
			}
		case opDiv:
			for i := range out {
				out[i] = x / b[i]
			}
		case opMax:
			for i := range out {
				out[i] = max32(x, b[i])
			}
		case opMin:
			for i := range out {
				out[i] = min32(x, b[i])
			}
		}
	default:
		var v float32
		x, y := a[0], b[0]
		switch op {
		case opAdd:
			v = x + y
		case opSub:
			v = x - y
		case opMul:
			v = x * y
		case opDiv:
			v = x / y
		case opMax:
			v = max32(x, y)
		case opMin:
			v = min32(x, y)
		}
		for i := range out {
			out[i] = v
		}
	}
}

// max32/min32 propagate NaN like XLA's maximum/minimum.
func max32(a, b float32) float32 {
	if a != a || a > b {
		return a
	}
	return b
}

func min32(a, b float32) float32 {
	if a != a || a < b {
		return a
	}
	return b
}

// nativeBinary returns the native kernel of a float32 binary op with broadcasting.
// st holds the operands' strides as seen from the output dims (0 on broadcast axes).
func nativeBinary(op binOp, out []int, st [][]int) nativeFn {
	p := newRowPlan(out, [][]int{contiguousStrides(out), st[0], st[1]})
	return func(in []any, outAny any) error {
		a, b, o := in[0].([]float32), in[1].([]float32), outAny.([]float32)
		p.run(func(offs []int, n int) {
			binRow(op, o[offs[0]:offs[0]+n], a[offs[1]:], b[offs[2]:], p.steps[1], p.steps[2])
		})
		return nil
	}
}

// cmpOp identifies a native float32 comparison.
type cmpOp int

const (
	cmpGT cmpOp = iota
	cmpGE
	cmpLT
	cmpLE
	cmpEQ
	cmpNE
)

func cmpRow(op cmpOp, out []bool, a, b []float32, sa, sb int) {
	ia, ib := 0, 0
	for i := range out {
		x, y := a[ia], b[ib]
		var r bool
		switch op {
		case cmpGT:
			r = x > y
		case cmpGE:
			r = x >= y
		case cmpLT:
			r = x < y
		case cmpLE:
			r = x <= y
		case cmpEQ:
			r = x == y
		case cmpNE:
			r = x != y
		}
		out[i] = r
		ia += sa
		ib += sb
	}
}

func nativeCompare(op cmpOp, out []int, st [][]int) nativeFn {
	p := newRowPlan(out, [][]int{contiguousStrides(out), st[0], st[1]})
	return func(in []any, outAny any) error {
		a, b, o := in[0].([]float32), in[1].([]float32), outAny.([]bool)
		p.run(func(offs []int, n int) {
			cmpRow(op, o[offs[0]:offs[0]+n], a[offs[1]:], b[offs[2]:], p.steps[1], p.steps[2])
		})
		return nil
	}
}

// nativeWhere: out = cond ? t : f, each of cond/t/f scalar or full.
func nativeWhere(out []int, st [][]int) nativeFn {
	p := newRowPlan(out, [][]int{contiguousStrides(out), st[0], st[1], st[2]})
	return func(in []any, outAny any) error {
		c, a, b, o := in[0].([]bool), in[1].([]float32), in[2].([]float32), outAny.([]float32)
		p.run(func(offs []int, n int) {
			whereRow(o[offs[0]:offs[0]+n], c[offs[1]:], a[offs[2]:], b[offs[3]:], p.steps[1], p.steps[2], p.steps[3])
		})
		return nil
	}
}

// whereRow selects without branches (the condition of a ReLU-like Where is unpredictable):
// dst[i] = c ? a : b via a bit mask, operands advancing by sc, sa, sb (0 or 1).
func whereRow(dst []float32, c []bool, a, b []float32, sc, sa, sb int) {
	n := len(dst)
	if sc == 1 && sa == 1 && sb == 1 {
		c, a, b = c[:n], a[:n], b[:n]
		for i := range dst {
			m := -uint32(boolToU8(c[i]))
			dst[i] = math.Float32frombits(math.Float32bits(a[i])&m | math.Float32bits(b[i])&^m)
		}
		return
	}
	if sc == 1 && sa == 1 && sb == 0 {
		c, a = c[:n], a[:n]
		bb := math.Float32bits(b[0])
		for i := range dst {
			m := -uint32(boolToU8(c[i]))
			dst[i] = math.Float32frombits(math.Float32bits(a[i])&m | bb&^m)
		}
		return
	}
	if sc == 1 && sa == 0 && sb == 1 {
		c, b = c[:n], b[:n]
		ab := math.Float32bits(a[0])
		for i := range dst {
			m := -uint32(boolToU8(c[i]))
			dst[i] = math.Float32frombits(ab&m | math.Float32bits(b[i])&^m)
		}
		return
	}
	ic, ia, ib := 0, 0, 0
	for i := range dst {
		m := -uint32(boolToU8(c[ic]))
		dst[i] = math.Float32frombits(math.Float32bits(a[ia])&m | math.Float32bits(b[ib])&^m)
		ic += sc
		ia += sa
		ib += sb
	}
}

func boolToU8(b bool) uint8 {
	return *(*uint8)(unsafe.Pointer(&b))
}

// unaryOp identifies a native float32 unary op.
type unaryOp int

const (
	opNeg unaryOp = iota
	opExp
	opLog
	opSqrt
	opAbs
)

func nativeUnary(op unaryOp, s shapes.Shape) nativeFn {
	p := newRowPlan([]int{s.Size()}, [][]int{{1}, {1}})
	return func(in []any, outAny any) error {
		a, o := in[0].([]float32), outAny.([]float32)
		p.run(func(offs []int, n int) {
			dst, src := o[offs[0]:offs[0]+n], a[offs[1]:offs[1]+n]
			switch op {
			case opNeg:
				for i, v := range src {
					dst[i] = -v
				}
			case opExp:
				for i, v := range src {
					dst[i] = float32(math.Exp(float64(v)))
				}
			case opLog:
				for i, v := range src {
					dst[i] = float32(math.Log(float64(v)))
				}
			case opSqrt:
				for i, v := range src {
					dst[i] = float32(math.Sqrt(float64(v)))
				}
			case opAbs:
				for i, v := range src {
					dst[i] = float32(math.Abs(float64(v)))
				}
			}
		})
		return nil
	}
}

// bcastInDimStrides are the strides of x seen from the output of BroadcastInDim(x, out, axes).
func bcastInDimStrides(x, out shapes.Shape, axes []int) []int {
	xs := contiguousStrides(x.Dimensions)
	st := make([]int, out.Rank())
	for i, a := range axes {
		if x.Dimensions[i] != 1 || out.Dimensions[a] == 1 {
			st[a] = xs[i]
		}
	}
	return st
}

// nativeBroadcastInDim: out[idx] = x[idx restricted to axes].
func nativeBroadcastInDim(x, out shapes.Shape, axes []int) nativeFn {
	st := bcastInDimStrides(x, out, axes)
	p := newRowPlan(out.Dimensions, [][]int{contiguousStrides(out.Dimensions), st})
	return func(in []any, outAny any) error {
		a, o := in[0].([]float32), outAny.([]float32)
		p.run(func(offs []int, n int) {
			dst := o[offs[0] : offs[0]+n]
			if p.steps[1] == 1 {
				copy(dst, a[offs[1]:offs[1]+n])
				return
			}
			v := a[offs[1]]
			for i := range dst {
				dst[i] = v
			}
		})
		return nil
	}
}

// nativeTranspose: out = Transpose(x, perm). It walks the output (gathering) or the input
// (scattering), whichever has the longer contiguous inner run: the pixel-shuffle transposes of the
// U-Net have an output inner axis of size 2.
func nativeTranspose(x shapes.Shape, perm []int) nativeFn {
	xs := contiguousStrides(x.Dimensions)
	outDims := make([]int, len(perm))
	st := make([]int, len(perm))
	for i, a := range perm {
		outDims[i] = x.Dimensions[a]
		st[i] = xs[a]
	}
	gather := newRowPlan(outDims, [][]int{contiguousStrides(outDims), st})
	// Scatter: iterate over x; the output stride of x's axis a is the stride of output axis i with perm[i] == a.
	os := contiguousStrides(outDims)
	ost := make([]int, len(perm))
	for i, a := range perm {
		ost[a] = os[i]
	}
	scatter := newRowPlan(x.Dimensions, [][]int{xs, ost})
	if scatter.L > gather.L {
		return func(in []any, outAny any) error {
			a, o := in[0].([]float32), outAny.([]float32)
			scatter.run(func(offs []int, n int) {
				src := a[offs[0] : offs[0]+n]
				d, step := offs[1], scatter.steps[1]
				for _, v := range src {
					o[d] = v
					d += step
				}
			})
			return nil
		}
	}
	return func(in []any, outAny any) error {
		a, o := in[0].([]float32), outAny.([]float32)
		gather.run(func(offs []int, n int) {
			dst := o[offs[0] : offs[0]+n]
			s, step := offs[1], gather.steps[1]
			if step == 1 {
				copy(dst, a[s:s+n])
				return
			}
			for i := range dst {
				dst[i] = a[s]
				s += step
			}
		})
		return nil
	}
}

// nativeReduce sums (or maxes) x over axes. The input is walked in order; the innermost collapsed
// run is either reduced into one output element or added onto an output row.
func nativeReduce(isMax bool, x shapes.Shape, axes []int) nativeFn {
	rank := x.Rank()
	reduced := make([]bool, rank)
	for _, a := range axes {
		reduced[a] = true
	}
	if len(axes) == 0 { // like SimpleGo: no axes means all axes
		for a := range reduced {
			reduced[a] = true
		}
	}
	// Output strides over input axes (0 on reduced axes).
	var outDims []int
	for a := range rank {
		if !reduced[a] {
			outDims = append(outDims, x.Dimensions[a])
		}
	}
	os := contiguousStrides(outDims)
	ost := make([]int, rank)
	j := 0
	for a := range rank {
		if !reduced[a] {
			ost[a] = os[j]
			j++
		}
	}
	p := newRowPlan(x.Dimensions, [][]int{contiguousStrides(x.Dimensions), ost})
	// Parallel only over an outermost kept axis (disjoint outputs); else sequential.
	parallelOK := len(p.outer) > 0 && p.strides[1][0] != 0
	init := float32(0)
	if isMax {
		init = float32(math.Inf(-1))
	}
	return func(in []any, outAny any) error {
		a, o := in[0].([]float32), outAny.([]float32)
		for i := range o {
			o[i] = init
		}
		body := func(offs []int, n int) {
			src := a[offs[0] : offs[0]+n]
			if p.steps[1] == 0 {
				acc := o[offs[1]]
				if isMax {
					for _, v := range src {
						acc = max32(acc, v)
					}
				} else {
					// 4 partial sums: fewer dependencies, better rounding.
					var s0, s1, s2, s3 float32
					i := 0
					for ; i+4 <= len(src); i += 4 {
						s0 += src[i]
						s1 += src[i+1]
						s2 += src[i+2]
						s3 += src[i+3]
					}
					for ; i < len(src); i++ {
						s0 += src[i]
					}
					acc += (s0 + s1) + (s2 + s3)
				}
				o[offs[1]] = acc
				return
			}
			dst := o[offs[1] : offs[1]+n]
			if isMax {
				for i, v := range src {
					dst[i] = max32(dst[i], v)
				}
			} else {
				for i, v := range src {
					dst[i] += v
				}
			}
		}
		if parallelOK {
			p.runOuterParallel(body)
		} else {
			p.runSequential(body)
		}
		return nil
	}
}

// runSequential is run on one goroutine without splitting rows.
func (p *rowPlan) runSequential(fn func(offs []int, n int)) {
	offs := make([]int, len(p.strides))
	idx := make([]int, len(p.outer))
	rows := prodInts(p.outer)
	for range rows {
		for i := range offs {
			o := 0
			for d, x := range idx {
				o += x * p.strides[i][d]
			}
			offs[i] = o
		}
		fn(offs, p.L)
		incIndex(idx, p.outer)
	}
}

// runOuterParallel splits the outermost axis over goroutines, rows kept whole.
func (p *rowPlan) runOuterParallel(fn func(offs []int, n int)) {
	workers := runtime.GOMAXPROCS(0)
	if p.size < minParallelElems {
		workers = 1
	}
	inner := prodInts(p.outer[1:])
	parallel.For(p.outer[0], workers, func(i0, i1 int) {
		offs := make([]int, len(p.strides))
		idx := make([]int, len(p.outer))
		for i := i0; i < i1; i++ {
			idx[0] = i
			clear(idx[1:])
			for range inner {
				for k := range offs {
					o := 0
					for d, x := range idx {
						o += x * p.strides[k][d]
					}
					offs[k] = o
				}
				fn(offs, p.L)
				incIndex(idx[1:], p.outer[1:])
			}
		}
	})
}
