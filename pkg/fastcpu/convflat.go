package fastcpu

import (
	"errors"
	"runtime"

	"github.com/msdkit/msdkit/pkg/parallel"

	"github.com/msdkit/msdkit/pkg/fastcpu/gemm"
)

// Flat-grid convolution.
//
// With the input of one item zero-padded into xp[c, Xpad...] (row-major strides SxPad), a
// convolution with unit stride along the output ("q-lines") reads xp[c, off(k) + g(q)] where
// g(q) = sum_d q_d*SxPad_d and off(k) = sum_d k_d*kd_d*SxPad_d. Taking g over the whole grid
// [0, Q_0*SxPad_0) (positions past the true output along the inner axes are computed and dropped),
// each im2col row (c, k) is the contiguous slice xp[c*padSize + off(k) : ... + G]: im2col becomes
// C*Kp memcpys and the output is cropped from the grid. The kernel gradient ("k-lines": tiny output
// q, large kernel k with unit kernel dilation) is the mirror image: the kernel (the output
// gradient) is laid out on the grid with zeros at the dropped positions, and the rows of colT are
// the slices xp[c*padSize + off(q) : ... + G] with off(q) = sum_d q_d*s_d*SxPad_d.

func (cp *convPlan) setupFlat(paddings [][2]int, inTrailing bool) {
	if !inTrailing {
		return
	}
	for d := range cp.rank {
		if cp.D[d] != 1 || paddings[d][0] < 0 || paddings[d][1] < 0 {
			return
		}
		if cp.qLines && cp.s[d] != 1 {
			return
		}
		if !cp.qLines && cp.kd[d] != 1 {
			return
		}
	}
	cp.flat = true
	cp.Xpad = make([]int, cp.rank)
	for d := range cp.rank {
		cp.Xpad[d] = cp.X[d] + paddings[d][0] + paddings[d][1]
	}
	cp.SxPad = make([]int, cp.rank)
	acc := 1
	for d := cp.rank - 1; d >= 0; d-- {
		cp.SxPad[d] = acc
		acc *= cp.Xpad[d]
	}
	cp.padSize = acc
	lineDims, step := cp.Q, cp.kd // rows offset by the other index set
	other := cp.K
	if !cp.qLines {
		lineDims, step, other = cp.K, cp.s, cp.Q
	}
	cp.G = lineDims[0] * cp.SxPad[0]
	maxOff := 0
	for d := range cp.rank {
		maxOff += (other[d] - 1) * step[d] * cp.SxPad[d]
	}
	cp.slack = max(0, maxOff+cp.G-cp.padSize)
}

// padItem copies the item's input (channels at stride inSC, spatial contiguous) into xp, zero padded.
func (cp *convPlan) padItem(inN, xp []float32, workers int) {
	last := cp.rank - 1
	Xl := cp.X[last]
	pre := cp.Xp / Xl
	parallel.For(cp.C, workersOr(workers), func(c0, c1 int) {
		idx := make([]int, cp.rank)
		for c := c0; c < c1; c++ {
			dst := xp[c*cp.padSize : (c+1)*cp.padSize]
			clear(dst)
			src := inN[c*cp.inSC:]
			clear(idx)
			for p := range pre {
				off := cp.lo[last]
				for d := range last {
					off += (idx[d] + cp.lo[d]) * cp.SxPad[d]
				}
				copy(dst[off:off+Xl], src[p*Xl:(p+1)*Xl])
				incIndex(idx[:last], cp.X[:last])
			}
		}
	})
	clear(xp[cp.C*cp.padSize:])
}

// gridOffset is sum_d idx_d*step_d*SxPad_d for the multi-index number i over dims.
func (cp *convPlan) gridOffset(i int, dims, step []int) int {
	off := 0
	for d := cp.rank - 1; d >= 0; d-- {
		off += (i % dims[d]) * step[d] * cp.SxPad[d]
		i /= dims[d]
	}
	return off
}

func (cp *convPlan) runFlat(inN, packed, outN []float32, tSO, workers int) error {
	xp := getScratch(cp.C*cp.padSize + cp.slack)
	defer putScratch(xp)
	cp.padItem(inN, *xp, workers)
	R := cp.C * cp.Kp
	// The grid is processed in chunks of w columns whose col block (about 4 MiB) stays in cache;
	// chunks are spread over the workers, each running a single-threaded GEMM.
	nw := workersOr(workers)
	if cp.qLines {
		w := min(cp.G, max(256, (1<<20)/R)&^63)
		grid := getScratch(cp.O * cp.G)
		defer putScratch(grid)
		chunks := (cp.G + w - 1) / w
		errs := make([]error, nw)
		parallelChunks(chunks, nw, func(worker int, next func() (int, bool)) {
			col := getScratch(R * w)
			defer putScratch(col)
			for {
				ch, ok := next()
				if !ok {
					return
				}
				g0 := ch * w
				cw := min(w, cp.G-g0)
				for r := range R {
					c, k := r/cp.Kp, r%cp.Kp
					s := c*cp.padSize + cp.gridOffset(k, cp.K, cp.kd) + g0
					copy((*col)[r*cw:(r+1)*cw], (*xp)[s:s+cw])
				}
				if err := gemm.SgemmStrided(1, false, false, cp.O, cw, R, 1, 1, packed, R, 0, *col, cw, 0, 0, (*grid)[g0:], cp.G, 0); err != nil {
					errs[worker] = err
					return
				}
			}
		})
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		cp.cropGrid(*grid, outN, tSO, cp.Q, workers)
		return nil
	}
	return errors.New("fastcpu: runFlat called for a k-lines plan (bug)")
}

// runFlatK computes a kernel-gradient-like convolution (tiny output q, large kernel k, unit
// kernel dilation) for all batch items n at once, as one GEMM over the grid:
//
//	out[o, (n,q)] = sum_{(c,g)} A[o, c*G+g] * xp[n, c, off(q)+g]
//
// with the rows (n,q) of the right operand cut from the padded inputs in cache-sized chunks of
// the (c, g) range. Each worker accumulates a private [O, N*Qp] partial sum.
func (cp *convPlan) runFlatK(in, packed, target []float32, tSN, tSO int) error {
	nw := runtime.GOMAXPROCS(0)
	itemPad := cp.C * cp.padSize
	xp := getScratch(cp.N*itemPad + cp.slack)
	defer putScratch(xp)
	parallel.For(cp.N, 1, func(n0, n1 int) {
		for n := n0; n < n1; n++ {
			cp.padItem(in[n*cp.inSN:], (*xp)[n*itemPad:(n+1)*itemPad], nw)
		}
	})
	clear((*xp)[cp.N*itemPad:])
	Nq := cp.N * cp.Qp
	RG := cp.C * cp.G
	w := min(cp.G, max(256, (1<<20)/max(Nq, 1))&^63)
	perC := (cp.G + w - 1) / w
	offs := make([]int, cp.Qp)
	for q := range cp.Qp {
		offs[q] = cp.gridOffset(q, cp.Q, cp.s)
	}
	partials := make([]*[]float32, nw)
	errs := make([]error, nw)
	parallelChunks(cp.C*perC, nw, func(worker int, next func() (int, bool)) {
		col := getScratch(Nq * w)
		defer putScratch(col)
		part := getScratch(cp.O * Nq)
		clear(*part)
		partials[worker] = part
		for {
			ch, ok := next()
			if !ok {
				return
			}
			c, g0 := ch/perC, (ch%perC)*w
			cw := min(w, cp.G-g0)
			for n := range cp.N {
				base := n*itemPad + c*cp.padSize + g0
				for q := range cp.Qp {
					row := n*cp.Qp + q
					s := base + offs[q]
					copy((*col)[row*cw:(row+1)*cw], (*xp)[s:s+cw])
				}
			}
			if err := gemm.SgemmStrided(1, false, true, cp.O, Nq, cw, 1, 1, packed[c*cp.G+g0:], RG, 0, *col, cw, 0, 1, *part, Nq, 0); err != nil {
				errs[worker] = err
				return
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	cp.sumPartials(partials, target, tSN, tSO)
	return nil
}

// runGatherK is runFlatK for the general case (kernel dilation, input dilation, negative padding,
// any layout): the rows (n,q) of the right operand are gathered line by line along k_last, in
// chunks of whole lines of the (c, k) range; A is the packed kernel [O, C*Kp].
func (cp *convPlan) runGatherK(in, packed, target []float32, tSN, tSO int) error {
	nw := runtime.GOMAXPROCS(0)
	last := cp.rank - 1
	Kl := cp.K[last]
	kPre := cp.Kp / Kl
	R := cp.C * cp.Kp
	Nq := cp.N * cp.Qp
	lines := cp.C * kPre
	linesPerChunk := max(1, min(lines, ((1<<20)/max(Nq, 1))/Kl))
	chunks := (lines + linesPerChunk - 1) / linesPerChunk
	partials := make([]*[]float32, nw)
	errs := make([]error, nw)
	parallelChunks(chunks, nw, func(worker int, next func() (int, bool)) {
		col := getScratch(Nq * linesPerChunk * Kl)
		defer putScratch(col)
		part := getScratch(cp.O * Nq)
		clear(*part)
		partials[worker] = part
		kIdx := make([]int, cp.rank)
		qIdx := make([]int, cp.rank)
		for {
			ch, ok := next()
			if !ok {
				return
			}
			l0 := ch * linesPerChunk
			l1 := min(lines, l0+linesPerChunk)
			cw := (l1 - l0) * Kl
			for n := range cp.N {
				inN := in[n*cp.inSN:]
				for q := range cp.Qp {
					rem := q
					for d := last; d >= 0; d-- {
						qIdx[d] = rem % cp.Q[d]
						rem /= cp.Q[d]
					}
					row := (*col)[(n*cp.Qp+q)*cw : (n*cp.Qp+q+1)*cw]
					for l := l0; l < l1; l++ {
						c, kp := l/kPre, l%kPre
						rem := kp
						for d := last - 1; d >= 0; d-- {
							kIdx[d] = rem % cp.K[d]
							rem /= cp.K[d]
						}
						dst := row[(l-l0)*Kl : (l-l0+1)*Kl]
						if base, ok := cp.lineBase(c, qIdx, kIdx); ok {
							fillLine(dst, inN, base, qIdx[last]*cp.s[last]-cp.lo[last], cp.kd[last], cp.X[last], cp.D[last], cp.inSX[last])
						} else {
							clear(dst)
						}
					}
				}
			}
			r0 := l0 * Kl
			if err := gemm.SgemmStrided(1, false, true, cp.O, Nq, cw, 1, 1, packed[r0:], R, 0, *col, cw, 0, 1, *part, Nq, 0); err != nil {
				errs[worker] = err
				return
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	cp.sumPartials(partials, target, tSN, tSO)
	return nil
}

// sumPartials adds the workers' [O, N*Qp] partial sums into target[n*tSN + o*tSO + q] and
// returns them to the scratch pool.
func (cp *convPlan) sumPartials(partials []*[]float32, target []float32, tSN, tSO int) {
	Nq := cp.N * cp.Qp
	for n := range cp.N {
		for o := range cp.O {
			dst := target[n*tSN+o*tSO : n*tSN+o*tSO+cp.Qp]
			clear(dst)
			for _, part := range partials {
				if part == nil {
					continue
				}
				src := (*part)[o*Nq+n*cp.Qp : o*Nq+(n+1)*cp.Qp]
				for q, v := range src {
					dst[q] += v
				}
			}
		}
	}
	for _, part := range partials {
		if part != nil {
			putScratch(part)
		}
	}
}

// cropGrid copies grid[o, g(q)] to outN[o*tSO + q] for the multi-index q over dims.
func (cp *convPlan) cropGrid(grid, outN []float32, tSO int, dims []int, workers int) {
	last := cp.rank - 1
	L := dims[last]
	pre := prodInts(dims) / L
	parallel.For(cp.O, workersOr(workers), func(o0, o1 int) {
		idx := make([]int, cp.rank)
		for o := o0; o < o1; o++ {
			src := grid[o*cp.G:]
			dst := outN[o*tSO:]
			clear(idx)
			for p := range pre {
				off := 0
				for d := range last {
					off += idx[d] * cp.SxPad[d]
				}
				copy(dst[p*L:(p+1)*L], src[off:off+L])
				incIndex(idx[:last], dims[:last])
			}
		}
	})
}

// packKernelGrid lays the kernel out as A[o, c*G + g(k)] (zeros off the grid points) for k-lines.
func (cp *convPlan) packKernelGrid(ker, packed []float32) {
	clear(packed)
	last := cp.rank - 1
	L := cp.K[last]
	pre := cp.Kp / L
	RG := cp.C * cp.G
	parallel.For(cp.O, workersOr(0), func(o0, o1 int) {
		idx := make([]int, cp.rank)
		for o := o0; o < o1; o++ {
			for c := range cp.C {
				dst := packed[o*RG+c*cp.G:]
				clear(idx)
				for range pre {
					goff, koff := 0, o*cp.kSO+c*cp.kSC
					for d := range last {
						goff += idx[d] * cp.SxPad[d]
						koff += idx[d] * cp.kSK[d]
					}
					if cp.kSK[last] == 1 {
						copy(dst[goff:goff+L], ker[koff:koff+L])
					} else {
						for i := range L {
							dst[goff+i] = ker[koff+i*cp.kSK[last]]
						}
					}
					incIndex(idx[:last], cp.K[:last])
				}
			}
		}
	})
}
