package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/msdkit/msdkit/pkg/fastcpu/gemm"
	"github.com/pkg/errors"
)

// DotGeneral implements backends.Builder. Float32 products run natively as (batched) GEMMs; the
// operands are used in place when their axes are already [batch, free, contracting] or
// [batch, contracting, free], and transposed into that order otherwise.
func (b *Builder) DotGeneral(lhs backends.Op, lhsContractingAxes, lhsBatchAxes []int,
	rhs backends.Op, rhsContractingAxes, rhsBatchAxes []int) (backends.Op, error) {
	lc, lb := slices.Clone(lhsContractingAxes), slices.Clone(lhsBatchAxes)
	rc, rb := slices.Clone(rhsContractingAxes), slices.Clone(rhsBatchAxes)
	outs, err := b.record("DotGeneral", []backends.Op{lhs, rhs}, 1, func(sb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		o, err := sb.DotGeneral(in[0], lc, lb, in[1], rc, rb)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	v := outs[0].(*value)
	l, r := v.call.inputs[0].shape, v.call.inputs[1].shape
	if l.DType == dtypes.Float32 && r.DType == dtypes.Float32 && v.shape.Size() > 0 {
		plan, err := newDotPlan(l.Dimensions, lc, lb, r.Dimensions, rc, rb)
		if err != nil {
			return nil, err
		}
		v.call.native = f32Native(plan.run)
		v.call.flops = 2 * float64(plan.batch) * float64(plan.m) * float64(plan.n) * float64(plan.k)
	}
	return v, nil
}

// operandPlan describes how a DotGeneral operand becomes a [batch, rows, cols] matrix stack.
type operandPlan struct {
	dims  []int
	perm  []int // permutation to [batch, free, contracting] (nil: none needed)
	trans bool  // used in place as [batch, contracting, free]
}

type dotPlan struct {
	batch, m, n, k int
	lhs, rhs       operandPlan
}

func newDotPlan(lDims, lc, lb, rDims, rc, rb []int) (*dotPlan, error) {
	if len(lc) != len(rc) || len(lb) != len(rb) {
		return nil, errors.Errorf("fastcpu: DotGeneral axes mismatch")
	}
	p := &dotPlan{batch: 1, k: 1, m: 1, n: 1}
	for i := range lb {
		p.batch *= lDims[lb[i]]
	}
	for _, a := range lc {
		p.k *= lDims[a]
	}
	p.lhs = makeOperandPlan(lDims, lb, lc)
	p.rhs = makeOperandPlan(rDims, rb, rc)
	p.m = prodInts(lDims) / max(p.batch*p.k, 1)
	p.n = prodInts(rDims) / max(p.batch*p.k, 1)
	return p, nil
}

func freeAxes(rank int, batch, contract []int) []int {
	var free []int
	for a := range rank {
		if !slices.Contains(batch, a) && !slices.Contains(contract, a) {
			free = append(free, a)
		}
	}
	return free
}

func makeOperandPlan(dims, batch, contract []int) operandPlan {
	free := freeAxes(len(dims), batch, contract)
	direct := slices.Concat(batch, free, contract)
	trans := slices.Concat(batch, contract, free)
	op := operandPlan{dims: dims}
	switch {
	case isIota(direct):
	case isIota(trans):
		op.trans = true
	default:
		op.perm = direct
	}
	return op
}

func isIota(p []int) bool {
	for i, v := range p {
		if v != i {
			return false
		}
	}
	return true
}

// run computes out[b, m, n] = sum_k lhs[b, m, k] * rhs[b, n, k] (rhs "free" axes are its rows).
func (p *dotPlan) run(ins [][]float32, out []float32) error {
	lhs, rhs := ins[0], ins[1]
	if p.lhs.perm != nil {
		tmp := getScratch(len(lhs))
		defer putScratch(tmp)
		permute(lhs, p.lhs.dims, p.lhs.perm, *tmp)
		lhs = *tmp
	}
	if p.rhs.perm != nil {
		tmp := getScratch(len(rhs))
		defer putScratch(tmp)
		permute(rhs, p.rhs.dims, p.rhs.perm, *tmp)
		rhs = *tmp
	}
	if p.k == 0 {
		clear(out)
		return nil
	}
	// lhs: [b, m, k] (lda k) or trans [b, k, m] (lda m). rhs as B operand (k x n):
	// "direct" rhs is [b, n, k] -> transB with ldb k; "trans" rhs is [b, k, n] -> ldb n.
	lda := p.k
	if p.lhs.trans {
		lda = p.m
	}
	transB := !p.rhs.trans
	ldb := p.n
	if transB {
		ldb = p.k
	}
	err := gemm.SgemmStrided(0, p.lhs.trans, transB, p.m, p.n, p.k, p.batch, 1,
		lhs, lda, p.m*p.k, rhs, ldb, p.n*p.k, 0, out, p.n, p.m*p.n)
	return err
}

// permute writes dst = Transpose(src, perm) for a row-major src of the given dims.
func permute(src []float32, dims, perm []int, dst []float32) {
	rank := len(dims)
	if rank == 0 {
		copy(dst, src)
		return
	}
	srcStr := make([]int, rank)
	acc := 1
	for i := rank - 1; i >= 0; i-- {
		srcStr[i] = acc
		acc *= dims[i]
	}
	outDims := make([]int, rank)
	strides := make([]int, rank) // src stride for each output axis
	for i, a := range perm {
		outDims[i] = dims[a]
		strides[i] = srcStr[a]
	}
	last := rank - 1
	L := outDims[last]
	ls := strides[last]
	outer := len(dst) / max(L, 1)
	if L == 0 {
		return
	}
	idx := make([]int, rank)
	for o := range outer {
		base := 0
		for d := range last {
			base += idx[d] * strides[d]
		}
		row := dst[o*L : (o+1)*L]
		if ls == 1 {
			copy(row, src[base:base+L])
		} else {
			s := base
			for i := range row {
				row[i] = src[s]
				s += ls
			}
		}
		incIndex(idx[:last], outDims[:last])
	}
}
