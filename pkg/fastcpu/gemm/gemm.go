// Package gemm is a float32 matrix multiply (BLAS SGEMM) for the fastcpu
// GoMLX backend: convolutions lowered to GEMM (im2col / implicit GEMM) and
// dot products.
//
// It computes, on row-major matrices,
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(A) is m x k (A is stored k x m when transA) and op(B) is k x n
// (B stored n x k when transB). C is m x n with row stride ldc. When beta is
// zero C is only written, never read (NaNs in C do not propagate), as in BLAS.
//
// The algorithm is the Goto/BLIS one. The n dimension is cut in NC-column
// blocks, k in KC-deep blocks and m in MC-row blocks. For each (NC, KC) block
// op(B) is packed into NR-wide column panels (KC x NR, contiguous), for each
// (MC, KC) block op(A) into MR-tall row panels; packing makes every inner
// access unit-stride, handles the transposes once and pads edges with zeros.
// A register-blocked micro-kernel then computes each MR x NR tile of C as KC
// rank-1 updates held entirely in vector registers:
//
//	for p := 0; p < KC; p++ { Ctile += Apanel[:, p] (outer) Bpanel[p, :] }
//
// A B micro-panel (KC x NR) is reused from L1 while the kernel sweeps the
// MC/MR A panels of the block (kept in L2). When m is small (<= 128) and B
// is not transposed, B is not packed at all: the kernels read its rows in
// place (the hardware prefetcher follows the constant row stride), which
// halves the memory traffic of convolution GEMMs with few output channels. Kernels, chosen at start-up with golang.org/x/sys/cpu:
//
//	avx512  8 x 48 (24 zmm accumulators, A broadcast to registers)  amd64
//	avx2    4 x 24 (12 ymm accumulators, FMA)                      amd64
//	generic 2 x 4  (scalar Go, 8 accumulators)                     everywhere, and under the purego tag
//
// Blocking on AMD Zen 5 (48 KiB L1D, 1 MiB L2): KC = 256, MC = 128,
// NC = 3072 for the avx512 kernel; measured flat within noise around it.
//
// Work is split in independent blocks of C (batch entries, then columns,
// then rows), taken from a shared counter by up to runtime.GOMAXPROCS(0)
// long-lived goroutines, each with its own pooled packing buffers, so a call
// allocates nothing in steady state. Concurrent calls are safe.
//
// Entry points: Sgemm (panics on invalid arguments), SgemmErr (returns an
// error wrapping ErrInvalid), SgemmStrided (batched, strided, explicit worker
// count) and SgemmFunc (implicit GEMM: op(B) produced by a callback straight
// into the packing buffers, e.g. im2col rows of a convolution generated from
// the input tensor, so the column matrix never goes through memory).
package gemm

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// kernel describes one micro-kernel and its blocking parameters.
type kernel struct {
	name       string
	mr, nr     int // register tile
	kc, mc, nc int // cache blocks; mc multiple of mr, nc multiple of nr
	fn         func(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
}

var (
	all    []*kernel // kernels usable on this CPU, slowest first
	active *kernel   // kernel used by the entry points
)

// Kernel reports the name of the micro-kernel in use ("avx512", "avx2" or "generic").
func Kernel() string { return active.name }

// Kernels lists the micro-kernels this CPU and build support.
func Kernels() []string {
	names := make([]string, len(all))
	for i, k := range all {
		names[i] = k.name
	}
	return names
}

// SetKernel selects a micro-kernel by name (one of Kernels()) and returns the
// name previously in use. It is meant for tests and benchmarks; it must not
// be called while a multiplication runs.
func SetKernel(name string) (previous string, err error) {
	for _, k := range all {
		if k.name == name {
			previous = active.name
			active = k
			return previous, nil
		}
	}
	return active.name, fmt.Errorf("gemm: kernel %q not available (have %v)", name, Kernels())
}

// ErrInvalid is wrapped by every argument error.
var ErrInvalid = errors.New("gemm: invalid argument")

// Sgemm computes C = alpha*op(A)*op(B) + beta*C in parallel (see package
// doc). Arguments are validated first; invalid ones are a programmer error
// and panic with the message of SgemmErr. Backends should call SgemmErr.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if err := SgemmErr(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); err != nil {
		panic(err)
	}
}

// SgemmErr is Sgemm returning an error (wrapping ErrInvalid) instead of
// panicking when sizes are negative, a leading dimension is too small or a
// slice is too short. C is untouched when an error is returned.
func SgemmErr(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) error {
	return SgemmStrided(0, transA, transB, m, n, k, 1, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0)
}

// SgemmStrided computes batch independent products
//
//	C[i] = alpha * op(A[i]) * op(B[i]) + beta * C[i],  i = 0..batch-1
//
// where A[i] starts at a[i*strideA] (likewise B, C). A stride of 0 reuses
// the same matrix (e.g. the weights of a convolution for every image of a
// batch). The C matrices must not overlap each other nor A or B. workers
// bounds the goroutines used (<= 0 means runtime.GOMAXPROCS(0); 1 runs in the
// calling goroutine). Errors wrap ErrInvalid; C is untouched then.
//
// For a channels-first convolution lowered to GEMM per image, with
// col[i] = im2col(x[i]) of shape [k = Cin*kd*kh*kw, n = D*H*W] and weights w
// [Cout, k]: SgemmStrided(0, false, false, Cout, n, k, B, 1, w, k, 0, col, n,
// k*n, 0, y, n, Cout*n) writes y as [B, Cout, D, H, W]. Keep col as
// [k, n] (transB false) rather than [n, k]: with few output channels B is
// then read in place instead of transposed into packing buffers, about twice
// as fast on this memory-bound shape. SgemmFunc avoids col altogether.
func SgemmStrided(workers int, transA, transB bool, m, n, k, batch int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) error {
	if m < 0 || n < 0 || k < 0 || batch < 0 {
		return fmt.Errorf("%w: negative size m=%d n=%d k=%d batch=%d", ErrInvalid, m, n, k, batch)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkMatrix("A", a, ar, ac, lda, strideA, batch); err != nil {
		return err
	}
	if err := checkMatrix("B", b, br, bc, ldb, strideB, batch); err != nil {
		return err
	}
	if err := checkMatrix("C", c, m, n, ldc, strideC, batch); err != nil {
		return err
	}
	if batch > 1 && strideC == 0 && m > 0 && n > 0 {
		return fmt.Errorf("%w: strideC=0 with batch=%d would make the C matrices overlap", ErrInvalid, batch)
	}
	if m == 0 || n == 0 || batch == 0 {
		return nil
	}
	if beta == 0 {
		beta = 0 // -0 counts as zero: C is not read.
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	run(workers, transA, transB, m, n, k, batch, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, nil)
	return nil
}

// PackFunc produces op(B) on demand for SgemmFunc: it must write
// dst[p*ld + j] = op(B)[p0+p, j0+j] for p < kc, j < nc (nc <= ld). It is
// called for blocks of at most KC (256) rows and 480 columns, which stay in
// L2 where the kernels then read them, concurrently from several
// goroutines, so it must only read shared state; it must not panic.
type PackFunc func(dst []float32, ld, p0, kc, j0, nc int)

// SgemmFunc is SgemmErr with op(B) (k x n) produced by packB instead of
// read from memory: implicit GEMM. For a convolution, packB generates the
// im2col rows from the input tensor directly into the packing buffer, so the
// k x n column matrix (kernel volume times larger than the input) is never
// written to or read back from memory. workers is as in SgemmStrided.
func SgemmFunc(workers int, transA bool, m, n, k int, alpha float32, a []float32, lda int,
	packB PackFunc, beta float32, c []float32, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("%w: negative size m=%d n=%d k=%d", ErrInvalid, m, n, k)
	}
	if packB == nil {
		return fmt.Errorf("%w: nil PackFunc", ErrInvalid)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	if err := checkMatrix("A", a, ar, ac, lda, 0, 1); err != nil {
		return err
	}
	if err := checkMatrix("C", c, m, n, ldc, 0, 1); err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	if beta == 0 {
		beta = 0
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	run(workers, transA, false, m, n, k, 1, alpha, a, lda, 0, nil, n, 0, beta, c, ldc, 0, packB)
	return nil
}

// checkMatrix verifies that s holds batch rows x cols matrices with leading
// dimension ld, stride elements apart.
func checkMatrix(name string, s []float32, rows, cols, ld, stride, batch int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("%w: ld%s=%d must be >= max(1, %d columns)", ErrInvalid, lower(name), ld, cols)
	}
	if stride < 0 {
		return fmt.Errorf("%w: stride%s=%d is negative", ErrInvalid, name, stride)
	}
	if rows == 0 || cols == 0 || batch == 0 {
		return nil
	}
	need, ok := mulAdd(rows-1, ld, cols)
	if ok && batch > 1 {
		need, ok = mulAdd(batch-1, stride, need)
	}
	if !ok || len(s) < need {
		if !ok {
			return fmt.Errorf("%w: %s extent overflows int (%d x %d, ld=%d, batch=%d, stride=%d)", ErrInvalid, name, rows, cols, ld, batch, stride)
		}
		return fmt.Errorf("%w: %s has %d elements, needs %d (%d x %d, ld=%d, batch=%d, stride=%d)", ErrInvalid, name, len(s), need, rows, cols, ld, batch, stride)
	}
	return nil
}

func lower(s string) string { return string(rune(s[0]) + 'a' - 'A') }

// mulAdd returns x*y+z for non-negative ints and whether it did not overflow.
func mulAdd(x, y, z int) (int, bool) {
	if x != 0 && y > (math.MaxInt-z)/x {
		return 0, false
	}
	return x*y + z, true
}

// problem is one validated call, shared by the goroutines working on it.
type problem struct {
	kern                      *kernel
	transA, transB            bool
	m, n, k                   int
	alpha, beta               float32
	a, b, c                   []float32
	lda, ldb, ldc             int
	strideA, strideB, strideC int
	packFn                    PackFunc // produces op(B) when set (b unused)
	directB                   bool     // kernels read B in place (not transposed, small m)
	mBlock, nBlock            int      // rows / columns of C per task
	mTasks, nTasks, tasks     int
	next                      atomic.Int64
	wg                        sync.WaitGroup
}

var problemPool = sync.Pool{New: func() any { return new(problem) }}

// funcNC is the column width of the blocks SgemmFunc asks for: a 256 x 480
// block (480 KiB) stays in the 1 MiB L2 of Zen 4/5 cores.
const funcNC = 480

// directBMaxM is the largest m for which B (not transposed) is read in
// place instead of packed: up to MC rows every B panel is then read once,
// straight from memory. Measured on Zen 5 (GFLOP per CPU-second, packed ->
// in place): m=16 41->87, m=32 70->137, m=64 135->164, m=128 133->154,
// m=256 168->161, m=1024 166->161.
var directBMaxM = 128

// Task sizes, see run.
const (
	minParallelFlops = 4 << 20  // below this a call runs in the calling goroutine
	bigTaskFlops     = 64 << 20 // work per worker above which tasks are split further
	minTaskCols      = 192
	minTaskRows      = 64
)

func run(workers int, transA, transB bool, m, n, k, batch int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, packFn PackFunc) {
	p := problemPool.Get().(*problem)
	kern := active
	*p = problem{kern: kern, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, strideA: strideA, strideB: strideB, strideC: strideC, packFn: packFn}

	// With few rows each B panel is used by few kernel calls: reading it in
	// place (the hardware prefetcher follows the constant row stride) beats
	// copying it through memory first.
	p.directB = !transB && packFn == nil && m <= directBMaxM

	// Tasks: batch entries, then column blocks, then row blocks. Small
	// problems get one task per worker (each task packs its own operands, so
	// splitting duplicates packing); big ones up to four per worker so that a
	// worker slowed by other processes on the machine delays the call less.
	// Column blocks are at least minTaskCols wide, row blocks minTaskRows tall.
	flops := 2 * float64(m) * float64(n) * float64(max(k, 1)) * float64(batch)
	want := 1
	if workers > 1 && flops >= minParallelFlops {
		want = workers * int(min(4, max(1, flops/(float64(workers)*bigTaskFlops))))
	}
	perMat := ceilDiv(want, batch)
	nT := min(perMat, max(1, n/minTaskCols), ceilDiv(n, kern.nr))
	p.nBlock = roundUp(ceilDiv(n, nT), kern.nr)
	p.nTasks = ceilDiv(n, p.nBlock)
	mT := min(ceilDiv(perMat, p.nTasks), max(1, m/minTaskRows), ceilDiv(m, kern.mr))
	p.mBlock = roundUp(ceilDiv(m, mT), kern.mr)
	p.mTasks = ceilDiv(m, p.mBlock)
	p.tasks = p.mTasks * p.nTasks * batch

	w := min(workers, p.tasks)
	if w > 1 {
		// Hand the problem to idle pool goroutines without blocking: when
		// all are busy (concurrent calls), the caller takes their share.
		startWorkers(w - 1)
		for i := 0; i < w-1; i++ {
			p.wg.Add(1)
			select {
			case workCh <- p:
			default:
				p.wg.Done()
			}
		}
	}
	p.work()
	if w > 1 {
		p.wg.Wait()
	}
	*p = problem{}
	problemPool.Put(p)
}

var (
	workCh      = make(chan *problem)
	workersMu   sync.Mutex
	workersLive int
)

// startWorkers makes sure at least n pool goroutines are running, and
// waits for new ones to reach their receive loop.
func startWorkers(n int) {
	workersMu.Lock()
	defer workersMu.Unlock()
	if workersLive >= n {
		return
	}
	var ready sync.WaitGroup
	for ; workersLive < n; workersLive++ {
		ready.Add(1)
		go func() {
			ready.Done()
			for p := range workCh {
				p.work()
				p.wg.Done()
			}
		}()
	}
	ready.Wait()
}

// buffers are one goroutine's packing areas for a kernel.
type buffers struct {
	kern *kernel
	a, b []float32
	tile []float32
}

var bufPool sync.Pool

func getBuffers(k *kernel) *buffers {
	if v := bufPool.Get(); v != nil {
		buf := v.(*buffers)
		if buf.kern == k && len(buf.a) == k.mc*k.kc && len(buf.b) == k.kc*k.nc {
			return buf
		}
	}
	return &buffers{
		kern: k,
		a:    make([]float32, k.mc*k.kc),
		b:    make([]float32, k.kc*k.nc),
		tile: make([]float32, k.mr*k.nr),
	}
}

// work takes tasks until none is left.
func (p *problem) work() {
	buf := getBuffers(p.kern)
	perMat := p.mTasks * p.nTasks
	for {
		t := int(p.next.Add(1) - 1)
		if t >= p.tasks {
			break
		}
		bi, r := t/perMat, t%perMat
		i0 := (r / p.nTasks) * p.mBlock
		j0 := (r % p.nTasks) * p.nBlock
		p.block(buf, tail(p.a, bi*p.strideA), tail(p.b, bi*p.strideB), p.c[bi*p.strideC:],
			i0, min(i0+p.mBlock, p.m), j0, min(j0+p.nBlock, p.n))
	}
	bufPool.Put(buf)
}

// block computes rows [i0,i1) x columns [j0,j1) of one product, serially.
func (p *problem) block(buf *buffers, a, b, c []float32, i0, i1, j0, j1 int) {
	kern := p.kern
	if p.k == 0 || p.alpha == 0 {
		scaleC(c, p.ldc, i0, i1, j0, j1, p.beta)
		return
	}
	ncStep := kern.nc
	if p.packFn != nil {
		ncStep = min(funcNC, kern.nc)
	}
	for jc := j0; jc < j1; jc += ncStep {
		nc := min(ncStep, j1-jc)
		for pc := 0; pc < p.k; pc += kern.kc {
			kc := min(kern.kc, p.k-pc)
			var direct []float32
			ldd, padded := p.ldb, false
			switch {
			case p.packFn != nil:
				// The caller writes the kc x nc block row-major into
				// buf.b (L2-sized), padded with zeros to whole panels; the
				// kernels read it in place.
				ldd, padded = roundUp(nc, kern.nr), true
				direct = buf.b[:kc*ldd]
				p.packFn(direct, ldd, pc, kc, jc, nc)
				if nc < ldd {
					for i := 0; i < kc; i++ {
						clear(direct[i*ldd+nc : (i+1)*ldd])
					}
				}
			case p.directB:
				// Kernels read full panels in place; only the ragged
				// last panel is packed (at the start of buf.b).
				direct = b[pc*p.ldb+jc:]
				if full := nc / kern.nr * kern.nr; full < nc {
					packCopy(buf.b, b, p.ldb, pc, kc, jc+full, nc-full, kern.nr)
				}
			default:
				packB(buf.b, b, p.ldb, p.transB, pc, kc, jc, nc, kern.nr)
			}
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := i0; ic < i1; ic += kern.mc {
				mc := min(kern.mc, i1-ic)
				packA(buf.a, a, p.lda, p.transA, ic, mc, pc, kc, kern.mr)
				p.macro(buf, kc, mc, nc, c[ic*p.ldc+jc:], beta, direct, ldd, padded)
			}
		}
	}
}

// macro runs the micro-kernel over an mc x nc block of C from packed
// panels, or, when direct is set, from op(B) rows in place (direct[p*ldd+j])
// for all full panels, and for the last one too when padded.
func (p *problem) macro(buf *buffers, kc, mc, nc int, c []float32, beta float32, direct []float32, ldd int, padded bool) {
	kern := p.kern
	mr, nr, ldc := kern.mr, kern.nr, p.ldc
	for jr := 0; jr < nc; jr += nr {
		nn := min(nr, nc-jr)
		pb, ldb := &buf.b[jr*kc], nr
		if direct != nil {
			if nn == nr || padded {
				pb, ldb = &direct[jr], ldd
			} else {
				pb = &buf.b[0]
			}
		}
		for ir := 0; ir < mc; ir += mr {
			mm := min(mr, mc-ir)
			pa := &buf.a[ir*kc]
			if mm == mr && nn == nr {
				kern.fn(kc, pa, pb, ldb, &c[ir*ldc+jr], ldc, p.alpha, beta)
				continue
			}
			// Edge tile: compute the full tile aside, merge the valid part.
			tile := buf.tile
			kern.fn(kc, pa, pb, ldb, &tile[0], nr, p.alpha, 0)
			for i := 0; i < mm; i++ {
				row := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nn]
				t := tile[i*nr : i*nr+nn]
				if beta == 0 {
					copy(row, t)
					continue
				}
				for j := range row {
					row[j] = t[j] + beta*row[j]
				}
			}
		}
	}
}

// scaleC sets C = beta*C on a block (C = 0 when beta is zero).
func scaleC(c []float32, ldc, i0, i1, j0, j1 int, beta float32) {
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into mr-row panels: panel q holds,
// for each p, the mr values op(A)[i0+q*mr+r, p0+p], zero padded past mc.
func packA(dst, a []float32, lda int, trans bool, i0, mc, p0, kc, mr int) {
	if trans {
		// op(A)[i, p] = a[p*lda + i]: rows of storage are panel rows.
		packCopy(dst, a, lda, p0, kc, i0, mc, mr)
		return
	}
	packInterleave(dst, a, lda, i0, mc, p0, kc, mr)
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into nr-column panels: panel q
// holds, for each p, the nr values op(B)[p0+p, j0+q*nr+c], zero padded past nc.
func packB(dst, b []float32, ldb int, trans bool, p0, kc, j0, nc, nr int) {
	if trans {
		packInterleave(dst, b, ldb, j0, nc, p0, kc, nr)
		return
	}
	packCopy(dst, b, ldb, p0, kc, j0, nc, nr)
}

// packCopy packs rows p0..p0+kc, columns j0..j0+nc of s (row stride ld)
// into w-wide panels: dst[q*kc + p*w + c] = s[(p0+p)*ld + j0+q+c]. Each
// source row is read once, front to back, which keeps the hardware
// prefetcher streaming when s comes from memory.
func packCopy(dst, s []float32, ld, p0, kc, j0, nc, w int) {
	full := nc / w * w
	for p := 0; p < kc; p++ {
		row := s[(p0+p)*ld+j0 : (p0+p)*ld+j0+nc]
		d := dst[p*w:]
		for q := 0; q < full; q += w {
			copy(d[q*kc:q*kc+w], row[q:q+w])
		}
		if full < nc {
			e := d[full*kc : full*kc+w]
			copy(e, row[full:])
			clear(e[nc-full:])
		}
	}
}

// packInterleave packs rows r0..r0+nr and columns p0..p0+kc of s (row
// stride ld) transposed into w-tall panels: dst[q*kc + p*w + r] =
// s[(r0+q+r)*ld + p0+p], zero padded past nr. Rows are gathered eight at a
// time so every source row is read sequentially.
func packInterleave(dst, s []float32, ld, r0, nr, p0, kc, w int) {
	for q := 0; q < nr; q += w {
		rows := min(w, nr-q)
		panel := dst[q*kc : q*kc+w*kc]
		r := 0
		for ; r+8 <= rows; r += 8 {
			base := (r0+q+r)*ld + p0
			s0 := s[base : base+kc]
			s1 := s[base+ld : base+ld+kc]
			s2 := s[base+2*ld : base+2*ld+kc]
			s3 := s[base+3*ld : base+3*ld+kc]
			s4 := s[base+4*ld : base+4*ld+kc]
			s5 := s[base+5*ld : base+5*ld+kc]
			s6 := s[base+6*ld : base+6*ld+kc]
			s7 := s[base+7*ld : base+7*ld+kc]
			done := 0
			if transpose8x8 != nil && kc >= 8 {
				transpose8x8(&panel[r], w, &s0[0], ld, kc/8)
				done = kc / 8 * 8
			}
			for p := done; p < kc; p++ {
				d := panel[p*w+r : p*w+r+8 : p*w+r+8]
				d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
				d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
			}
		}
		for ; r < rows; r++ {
			src := s[(r0+q+r)*ld+p0 : (r0+q+r)*ld+p0+kc]
			for p, v := range src {
				panel[p*w+r] = v
			}
		}
		if rows < w {
			for p := 0; p < kc; p++ {
				clear(panel[p*w+rows : p*w+w])
			}
		}
	}
}

// transpose8x8, when set, does dst[c*dstStride + r] = src[r*ld + c] for
// r < 8, c < 8*blocks in SIMD registers.
var transpose8x8 func(dst *float32, dstStride int, src *float32, ld int, blocks int)

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// tail returns s[off:], or nil when off is past the end (unreferenced operands).
func tail(s []float32, off int) []float32 {
	if off > len(s) {
		return nil
	}
	return s[off:]
}
