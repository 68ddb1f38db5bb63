package fastcpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msdkit/msdkit/pkg/parallel"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/msdkit/msdkit/pkg/fastcpu/gemm"
	"github.com/pkg/errors"
)

// ConvGeneral implements backends.Builder. Arguments are normalised (zero/missing strides and
// dilations mean 1). Float32 convolutions without grouping run natively (see convPlan); others
// run on SimpleGo.
func (b *Builder) ConvGeneral(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (backends.Op, error) {
	inV, err := b.toValue(input)
	if err != nil {
		return nil, err
	}
	if inV.shape.Rank() < 3 {
		return nil, errors.Errorf("fastcpu: ConvGeneral input must have rank >= 3, got %s", inV.shape)
	}
	p, err := normConvParams(inV.shape.Rank()-2, axes, strides, paddings, inputDilations, kernelDilations, channelGroupCount, batchGroupCount)
	if err != nil {
		return nil, err
	}
	outs, err := b.record("ConvGeneral", []backends.Op{input, kernel}, 1, func(sb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		o, err := sb.ConvGeneral(in[0], in[1], p.axes, p.strides, p.paddings, p.inDil, p.kerDil, p.channelGroups, p.batchGroups)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	v := outs[0].(*value)
	kV := v.call.inputs[1]
	if inV.shape.DType == dtypes.Float32 && kV.shape.DType == dtypes.Float32 && p.channelGroups == 1 && p.batchGroups == 1 &&
		inV.shape.Size() > 0 && kV.shape.Size() > 0 && v.shape.Size() > 0 {
		plan := newConvPlan(inV.shape, kV.shape, v.shape, p)
		v.call.native = f32Native(plan.run)
		v.call.flops = plan.flops()
	}
	return v, nil
}

// convPlan executes
//
//	out[n, o, q] = sum_{c, k} in[n, c, t(q, k)] * ker[o, c, k],  t_d = q_d*s_d + k_d*kd_d - lo_d
//
// where t indexes the input dilated by D (t must be a multiple of D_d, t/D_d < X_d), for any axes
// layout. Two algorithms, both on GEMM:
//   - gather (im2col): col[(c,k), q] = in[n, c, t(q,k)], then out_n = A x col with A[o, (c,k)] the packed
//     kernel. Lines of col run along q or along k, whichever last spatial dimension is longer (the
//     kernel gradient of a convolution has a large "kernel" and a tiny output).
//   - scatter (col2im), used with input dilation (the input gradient of strided convolutions), where
//     gathering would multiply by the injected zeros: dcol[(o,k), j] = sum_c ker[o,c,k] in[n,c,j], then
//     out[n, o, j*D - k*kd + lo] += dcol[(o,k), j].
type convPlan struct {
	rank          int // spatial rank
	N, C, O       int
	X, K, Q       []int // input, kernel, output spatial dims
	s, kd, D, lo  []int
	inSN, inSC    int
	inSX          []int
	kSO, kSC      int
	kSK           []int
	outSN, outSO  int
	outSQ         []int
	Kp, Qp, Xp    int
	outDirect     bool // output spatial axes trailing and contiguous: GEMM writes in place.
	scatter       bool
	qLines        bool // gather orientation: col[(c,k), q] (true) or colT[q, (c,k)].
	parallelBatch bool
	// Flat-grid fast paths (unit steps along the line index, no input dilation, non-negative
	// padding, spatial axes trailing): the input is zero-padded once per item and every col row is a
	// contiguous slice of it (see convflat.go).
	flat    bool
	Xpad    []int // padded input spatial dims
	SxPad   []int // row-major strides of the padded spatial block
	padSize int   // prod(Xpad)
	G       int   // grid length of a col row
	slack   int   // zeros after the padded block so every row slice is in bounds
}

func axisStrides(s shapes.Shape) []int {
	st := make([]int, s.Rank())
	acc := 1
	for i := s.Rank() - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s.Dimensions[i]
	}
	return st
}

func gatherInts(idx, vals []int) []int {
	out := make([]int, len(idx))
	for i, j := range idx {
		out[i] = vals[j]
	}
	return out
}

func prodInts(v []int) int {
	p := 1
	for _, x := range v {
		p *= x
	}
	return p
}

func newConvPlan(inS, kS, outS shapes.Shape, p convParams) *convPlan {
	a := p.axes
	cp := &convPlan{rank: len(a.InputSpatial), s: p.strides, kd: p.kerDil, D: p.inDil}
	cp.lo = make([]int, cp.rank)
	for i := range cp.lo {
		cp.lo[i] = p.paddings[i][0]
	}
	inSt, kSt, outSt := axisStrides(inS), axisStrides(kS), axisStrides(outS)
	cp.N, cp.C = inS.Dimensions[a.InputBatch], inS.Dimensions[a.InputChannels]
	cp.O = kS.Dimensions[a.KernelOutputChannels]
	cp.X = gatherInts(a.InputSpatial, inS.Dimensions)
	cp.K = gatherInts(a.KernelSpatial, kS.Dimensions)
	cp.Q = gatherInts(a.OutputSpatial, outS.Dimensions)
	cp.inSN, cp.inSC, cp.inSX = inSt[a.InputBatch], inSt[a.InputChannels], gatherInts(a.InputSpatial, inSt)
	cp.kSO, cp.kSC, cp.kSK = kSt[a.KernelOutputChannels], kSt[a.KernelInputChannels], gatherInts(a.KernelSpatial, kSt)
	cp.outSN, cp.outSO, cp.outSQ = outSt[a.OutputBatch], outSt[a.OutputChannels], gatherInts(a.OutputSpatial, outSt)
	cp.Kp, cp.Qp, cp.Xp = prodInts(cp.K), prodInts(cp.Q), prodInts(cp.X)
	cp.outDirect = spatialTrailing(a.OutputSpatial, outS.Rank())
	inTrailing := spatialTrailing(a.InputSpatial, inS.Rank())
	anyDil, allStride1 := false, true
	for i := range cp.rank {
		anyDil = anyDil || cp.D[i] > 1
		allStride1 = allStride1 && cp.s[i] == 1
	}
	cp.scatter = anyDil && allStride1 && inTrailing
	last := cp.rank - 1
	cp.qLines = cp.Q[last] >= cp.K[last]
	cp.setupFlat(p.paddings, inTrailing)
	// Small GEMMs (kernel gradients: O x Qp tiny, huge contraction) parallelise over the batch.
	cp.parallelBatch = cp.N > 1 && cp.O*cp.Qp < 64*1024
	return cp
}

// flops counts 2 per multiply-add actually performed by the algorithm.
func (cp *convPlan) flops() float64 {
	if cp.scatter {
		return 2 * float64(cp.N*cp.O*cp.C*cp.Kp) * float64(cp.Xp)
	}
	return 2 * float64(cp.N*cp.O*cp.C*cp.Kp) * float64(cp.Qp)
}

// spatialTrailing reports whether the spatial axes are rank-len(spatial).. in order (so the spatial
// block of each (batch, channel) pair is contiguous).
func spatialTrailing(spatial []int, rank int) bool {
	for i, ax := range spatial {
		if ax != rank-len(spatial)+i {
			return false
		}
	}
	return true
}

// convPathRuns counts runs of each convolution algorithm: gather with q-lines, gather with k-lines,
// scatter, flat q-grid, flat k-grid.
var convPathRuns [5]atomic.Int64

// convPathNames name the algorithms in ReadStats ("Conv/<name>").
var convPathNames = [5]string{"Conv/gather-q", "Conv/gather-k", "Conv/scatter", "Conv/flat-q", "Conv/flat-k"}

func (cp *convPlan) path() int {
	switch {
	case cp.flat && cp.qLines:
		return 3
	case cp.flat:
		return 4
	case cp.scatter:
		return 2
	case cp.qLines:
		return 0
	}
	return 1
}

func (cp *convPlan) run(ins [][]float32, out []float32) error {
	path := cp.path()
	convPathRuns[path].Add(1)
	t0 := time.Now()
	defer func() { addStats(convPathNames[path], cp.flops(), time.Since(t0)) }()
	in, ker := ins[0], ins[1]
	R := cp.C * cp.Kp
	// Packed kernel: A[o, c*Kp+k] (gather) or W[(o*Kp+k), c] (scatter).
	var packed *[]float32
	if cp.flat && !cp.qLines {
		packed = getScratch(cp.O * cp.C * cp.G)
		cp.packKernelGrid(ker, *packed)
	} else {
		packed = getScratch(cp.O * R)
		cp.packKernel(ker, *packed)
	}
	defer putScratch(packed)

	// Output target: in place, or canonical [N, O, Qp] temp then scattered.
	target, tSN, tSO := out, cp.outSN, cp.outSO
	var tmp *[]float32
	if !cp.outDirect {
		tmp = getScratch(cp.N * cp.O * cp.Qp)
		defer putScratch(tmp)
		target, tSN, tSO = *tmp, cp.O*cp.Qp, cp.Qp
	}
	workers := runtime.GOMAXPROCS(0)
	if !cp.qLines && !cp.scatter {
		var err error
		if cp.flat {
			err = cp.runFlatK(in, *packed, target, tSN, tSO)
		} else {
			err = cp.runGatherK(in, *packed, target, tSN, tSO)
		}
		if err != nil {
			return err
		}
		if !cp.outDirect {
			cp.scatterOutput(target, out)
		}
		return nil
	}
	var err error
	if cp.parallelBatch {
		var mu sync.Mutex
		parallel.For(cp.N, workers, func(n0, n1 int) {
			for n := n0; n < n1; n++ {
				if e := cp.runItem(n, in, *packed, target, tSN, tSO, 1); e != nil {
					mu.Lock()
					err = e
					mu.Unlock()
				}
			}
		})
	} else {
		for n := range cp.N {
			if e := cp.runItem(n, in, *packed, target, tSN, tSO, 0); e != nil {
				err = e
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if !cp.outDirect {
		cp.scatterOutput(target, out)
	}
	return nil
}

// runItem computes batch item n into target (rows o at n*tSN + o*tSO, Qp contiguous columns).
func (cp *convPlan) runItem(n int, in, packed, target []float32, tSN, tSO, gemmWorkers int) error {
	R := cp.C * cp.Kp
	outN := target[n*tSN:]
	if cp.flat {
		return cp.runFlat(in[n*cp.inSN:], packed, outN, tSO, gemmWorkers)
	}
	if cp.scatter {
		// dcol[(o,k), j] = W[(o,k), c] x in_n[c, j].
		dcol := getScratch(cp.O * cp.Kp * cp.Xp)
		defer putScratch(dcol)
		inN := in[n*cp.inSN:]
		if err := gemm.SgemmStrided(gemmWorkers, false, false, cp.O*cp.Kp, cp.Xp, cp.C, 1, 1, packed, cp.C, 0,
			inN, cp.inSC, 0, 0, *dcol, cp.Xp, 0); err != nil {
			return err
		}
		cp.col2im(*dcol, outN, tSO, gemmWorkers)
		return nil
	}
	col := getScratch(R * cp.Qp)
	defer putScratch(col)
	if cp.qLines {
		cp.im2colQ(in[n*cp.inSN:], *col, gemmWorkers)
		return gemm.SgemmStrided(gemmWorkers, false, false, cp.O, cp.Qp, R, 1, 1, packed, R, 0, *col, cp.Qp, 0, 0, outN, tSO, 0)
	}
	return errors.Errorf("fastcpu: k-lines convolution reached the per-item path (bug)")
}

func (cp *convPlan) packKernel(ker, packed []float32) {
	R := cp.C * cp.Kp
	kIdx := make([]int, cp.rank)
	for o := range cp.O {
		for c := range cp.C {
			base := o*cp.kSO + c*cp.kSC
			clear(kIdx)
			for k := range cp.Kp {
				off := base
				for d := range cp.rank {
					off += kIdx[d] * cp.kSK[d]
				}
				if cp.scatter {
					packed[(o*cp.Kp+k)*cp.C+c] = ker[off]
				} else {
					packed[o*R+c*cp.Kp+k] = ker[off]
				}
				incIndex(kIdx, cp.K)
			}
		}
	}
}

// incIndex increments a row-major multi-index over dims.
func incIndex(idx, dims []int) {
	for d := len(idx) - 1; d >= 0; d-- {
		idx[d]++
		if idx[d] < dims[d] {
			return
		}
		idx[d] = 0
	}
}

// fillLine sets dst[i] = src[base + (t/D)*stride] for t = t0 + i*step when t is a valid dilated
// input position (0 <= t, t%D == 0, t/D < X), else 0.
func fillLine(dst, src []float32, base, t0, step, X, D, stride int) {
	if D == 1 {
		n := len(dst)
		// First i with t >= 0 and last with t < X.
		i0 := 0
		if t0 < 0 {
			i0 = (-t0 + step - 1) / step
		}
		i1 := n
		if last := t0 + (n-1)*step; last >= X {
			// largest i with t0 + i*step <= X-1
			if X-1-t0 < 0 {
				i1 = 0
			} else {
				i1 = (X-1-t0)/step + 1
			}
		}
		if i0 > n {
			i0 = n
		}
		if i1 < i0 {
			i1 = i0
		}
		clear(dst[:i0])
		clear(dst[i1:])
		if i1 > i0 {
			s := base + (t0+i0*step)*stride
			if step*stride == 1 {
				copy(dst[i0:i1], src[s:s+i1-i0])
			} else {
				ss := step * stride
				d := dst[i0:i1]
				for i := range d {
					d[i] = src[s]
					s += ss
				}
			}
		}
		return
	}
	t := t0
	for i := range dst {
		if t >= 0 && t%D == 0 && t/D < X {
			dst[i] = src[base+(t/D)*stride]
		} else {
			dst[i] = 0
		}
		t += step
	}
}

// im2colQ builds col[(c,k), q] for one batch item (inN starts at the item).
func (cp *convPlan) im2colQ(inN, col []float32, workers int) {
	last := cp.rank - 1
	Ql := cp.Q[last]
	qPre := cp.Qp / Ql
	rows := cp.C * cp.Kp
	parallel.For(rows, workersOr(workers), func(r0, r1 int) {
		kIdx := make([]int, cp.rank)
		qIdx := make([]int, cp.rank)
		for r := r0; r < r1; r++ {
			c, k := r/cp.Kp, r%cp.Kp
			rem := k
			for d := last; d >= 0; d-- {
				kIdx[d] = rem % cp.K[d]
				rem /= cp.K[d]
			}
			row := col[r*cp.Qp : (r+1)*cp.Qp]
			clear(qIdx)
			for qp := range qPre {
				dst := row[qp*Ql : (qp+1)*Ql]
				if base, ok := cp.lineBase(c, qIdx, kIdx); ok {
					fillLine(dst, inN, base, kIdx[last]*cp.kd[last]-cp.lo[last], cp.s[last], cp.X[last], cp.D[last], cp.inSX[last])
				} else {
					clear(dst)
				}
				incIndex(qIdx[:last], cp.Q[:last])
			}
		}
	})
}

// col2im accumulates dcol[(o,k), j] into outN[o*tSO + q], q = j*D - k*kd + lo (strides are 1).
func (cp *convPlan) col2im(dcol, outN []float32, tSO, workers int) {
	last := cp.rank - 1
	Xl := cp.X[last]
	xPre := cp.Xp / Xl
	qStr := make([]int, cp.rank) // row-major strides of the output spatial block
	acc := 1
	for d := last; d >= 0; d-- {
		qStr[d] = acc
		acc *= cp.Q[d]
	}
	parallel.For(cp.O, workersOr(workers), func(o0, o1 int) {
		kIdx := make([]int, cp.rank)
		jIdx := make([]int, cp.rank)
		for o := o0; o < o1; o++ {
			dst := outN[o*tSO : o*tSO+cp.Qp]
			clear(dst)
			clear(kIdx)
			for k := range cp.Kp {
				src := dcol[(o*cp.Kp+k)*cp.Xp:]
				clear(jIdx)
				for jp := range xPre {
					line := src[jp*Xl : (jp+1)*Xl]
					base := 0
					ok := true
					for d := range last {
						q := jIdx[d]*cp.D[d] - kIdx[d]*cp.kd[d] + cp.lo[d]
						if q < 0 || q >= cp.Q[d] {
							ok = false
							break
						}
						base += q * qStr[d]
					}
					if ok {
						D, q0 := cp.D[last], cp.lo[last]-kIdx[last]*cp.kd[last]
						Ql := cp.Q[last]
						for j, v := range line {
							q := q0 + j*D
							if q >= 0 && q < Ql {
								dst[base+q] += v
							}
						}
					}
					incIndex(jIdx[:last], cp.X[:last])
				}
				incIndex(kIdx, cp.K)
			}
		}
	})
}

// lineBase returns the input offset of channel c at the output position qIdx and kernel tap
// kIdx along every spatial axis but the last, and false when that position falls in the
// padding or between the points of a dilated input (the line is then all zeros).
func (cp *convPlan) lineBase(c int, qIdx, kIdx []int) (int, bool) {
	base := c * cp.inSC
	for d := range cp.rank - 1 {
		t := qIdx[d]*cp.s[d] + kIdx[d]*cp.kd[d] - cp.lo[d]
		if t < 0 || t%cp.D[d] != 0 || t/cp.D[d] >= cp.X[d] {
			return 0, false
		}
		base += (t / cp.D[d]) * cp.inSX[d]
	}
	return base, true
}

// scatterOutput copies canonical [N, O, Qp] into the output layout.
func (cp *convPlan) scatterOutput(tmp, out []float32) {
	qIdx := make([]int, cp.rank)
	for n := range cp.N {
		for o := range cp.O {
			src := tmp[(n*cp.O+o)*cp.Qp:]
			base := n*cp.outSN + o*cp.outSO
			clear(qIdx)
			for q := range cp.Qp {
				off := base
				for d := range cp.rank {
					off += qIdx[d] * cp.outSQ[d]
				}
				out[off] = src[q]
				incIndex(qIdx, cp.Q)
			}
		}
	}
}

func workersOr(w int) int {
	if w <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return w
}

// parallelChunks runs body on up to workers goroutines; next hands worker w the chunk indices
// w, w+workers, w+2*workers, ... below n. The assignment is fixed, so a body that accumulates its
// chunks into a per-worker partial sum gives the same float32 result on every run (training
// resumes bit-exactly).
func parallelChunks(n, workers int, body func(worker int, next func() (int, bool))) {
	workers = max(1, min(workers, n))
	run := func(w int) {
		i := w - workers
		body(w, func() (int, bool) {
			i += workers
			return i, i < n
		})
	}
	if workers == 1 {
		run(0)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(w)
		}()
	}
	wg.Wait()
}
