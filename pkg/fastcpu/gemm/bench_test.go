package gemm

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// BenchmarkKernel measures each micro-kernel alone on L1-resident packed
// panels (kc = 256), the upper bound of the whole GEMM.
func BenchmarkKernel(b *testing.B) {
	for _, kern := range all {
		b.Run(kern.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			kc := 256
			pa, pb := randSlice(r, kern.mr*kc), randSlice(r, kc*kern.nr)
			c := make([]float32, kern.mr*kern.nr)
			for b.Loop() {
				kern.fn(kc, &pa[0], &pb[0], kern.nr, &c[0], kern.nr, 1, 1)
			}
			b.ReportMetric(2*float64(kern.mr*kern.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// shape is one benchmark GEMM.
type shape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

func (s shape) flops() float64 { return 2 * float64(s.m) * float64(s.n) * float64(s.k) }

// shapes are square sizes and the GEMMs of a 3x3x3 convolution of a 3D U-Net
// (base 16 channels, batch 2, 40x56x40 patch, levels down to 5x7x5):
// forward m = Cout, k = 27*Cin, n = B*D*H*W; weight gradient dW = dY col^T
// (k = B*D*H*W, transB); input gradient dcol = W^T dY (transA).
func shapes() []shape {
	s := []shape{}
	for _, n := range []int{256, 512, 1024, 2048} {
		s = append(s, shape{name: fmt.Sprintf("square%d", n), m: n, n: n, k: n})
	}
	lv := []struct{ c, vox int }{{16, 40 * 56 * 40}, {32, 20 * 28 * 20}, {64, 10 * 14 * 10}, {128, 5 * 7 * 5}}
	s = append(s, shape{name: "conv-in 16x27", m: 16, n: 2 * lv[0].vox, k: 27})
	for i, l := range lv {
		if i > 0 {
			cin := lv[i-1].c
			s = append(s, shape{name: fmt.Sprintf("conv %dx27*%d", l.c, cin), m: l.c, n: 2 * l.vox, k: 27 * cin})
		}
		s = append(s, shape{name: fmt.Sprintf("conv %dx27*%d", l.c, l.c), m: l.c, n: 2 * l.vox, k: 27 * l.c})
	}
	s = append(s,
		shape{name: "conv 16x27*16", transB: true, m: 16, n: 2 * lv[0].vox, k: 27 * 16},
		shape{name: "conv 64x27*64", transB: true, m: 64, n: 2 * lv[2].vox, k: 27 * 64},
		shape{name: "dW 16x432 k=B*DHW", transB: true, m: 16, n: 27 * 16, k: 2 * lv[0].vox},
		shape{name: "dW 64x1728 k=B*DHW", transB: true, m: 64, n: 27 * 64, k: 2 * lv[2].vox},
		shape{name: "dX 864x22400 k=32", transA: true, m: 27 * 32, n: 2 * lv[1].vox, k: 32},
	)
	return s
}

type operands struct {
	a, b, c       []float32
	lda, ldb, ldc int
}

func makeOperands(s shape) operands {
	r := rand.New(rand.NewPCG(2, 2))
	o := operands{a: randSlice(r, s.m*s.k), b: randSlice(r, s.k*s.n), c: make([]float32, s.m*s.n), lda: s.k, ldb: s.n, ldc: s.n}
	if s.transA {
		o.lda = s.m
	}
	if s.transB {
		o.ldb = s.k
	}
	return o
}

func (o operands) ours(s shape, workers int) {
	if err := SgemmStrided(workers, s.transA, s.transB, s.m, s.n, s.k, 1, 1, o.a, o.lda, 0, o.b, o.ldb, 0, 0, o.c, o.ldc, 0); err != nil {
		panic(err)
	}
}

func (o operands) gonum(s shape) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if s.transA {
		tA = blas.Trans
	}
	if s.transB {
		tB = blas.Trans
	}
	ar, ac := s.m, s.k
	if s.transA {
		ar, ac = s.k, s.m
	}
	br, bc := s.k, s.n
	if s.transB {
		br, bc = s.n, s.k
	}
	blas32.Gemm(tA, tB, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: o.lda, Data: o.a},
		blas32.General{Rows: br, Cols: bc, Stride: o.ldb, Data: o.b}, 0,
		blas32.General{Rows: s.m, Cols: s.n, Stride: o.ldc, Data: o.c})
}

// BenchmarkSgemm runs every shape on 1 and GOMAXPROCS workers.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range shapes() {
		o := makeOperands(s)
		for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/w%d", strings.ReplaceAll(s.name, " ", "_"), w), func(b *testing.B) {
				for b.Loop() {
					o.ours(s, w)
				}
				b.ReportMetric(s.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGonum runs gonum's blas32.Gemm on the same shapes (all cores).
func BenchmarkGonum(b *testing.B) {
	for _, s := range shapes() {
		o := makeOperands(s)
		b.Run(strings.ReplaceAll(s.name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				o.gonum(s)
			}
			b.ReportMetric(s.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// rate returns the best GFLOP/s of f over a few timed repetitions of at
// least d each (best-of, to reduce the noise of a shared machine), by wall
// time and by process CPU time (which excludes time slices lost to other
// processes; with one thread it is the single-core rate).
func rate(flops float64, d time.Duration, f func()) (wall, cpu float64) {
	f() // warm up: pools, page faults
	for rep := 0; rep < 5; rep++ {
		n, t0, c0 := 0, time.Now(), cpuNow()
		for time.Since(t0) < d || n == 0 {
			f()
			n++
		}
		w, c := time.Since(t0).Seconds(), (cpuNow() - c0).Seconds()
		wall = max(wall, flops*float64(n)/w/1e9)
		if c > 0 {
			cpu = max(cpu, flops*float64(n)/c/1e9)
		}
	}
	return wall, cpu
}

func cpuinfoMHz() float64 {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return mhz
		}
	}
	return 0
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// TestPrintTable prints GFLOP/s of this package (1 and GOMAXPROCS threads)
// against the machine peak and gonum's blas32.Gemm, measured in the same
// run. Enable with GEMM_TABLE=1 (GEMM_TABLE=quick: first shapes only,
// GEMM_TABLE=conv: convolution table only).
func TestPrintTable(t *testing.T) {
	mode := os.Getenv("GEMM_TABLE")
	if mode == "" {
		t.Skip("set GEMM_TABLE=1 to print the benchmark table")
	}
	threads := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(threads)
	mhz := cpuinfoMHz()
	hz := measuredClockHz()
	if hz == 0 {
		hz = mhz * 1e6
	}
	kern := active
	lanes := map[string]float64{"avx512": 16, "avx2": 8, "generic": 1}[kern.name]
	const fmaUnits = 2
	peak1 := fmaUnits * lanes * 2 * hz / 1e9
	fmt.Printf("kernel %s %dx%d, KC=%d MC=%d NC=%d; cpuinfo %.0f MHz, measured %.0f MHz; load before: %s\n",
		kern.name, kern.mr, kern.nr, kern.kc, kern.mc, kern.nc, mhz, hz/1e6, loadavg())
	fmt.Printf("peak/core = %d FMA units x %.0f lanes x 2 flops x %.2f GHz = %.1f GFLOP/s; %d cores: %.1f\n",
		fmaUnits, lanes, hz/1e9, peak1, threads, peak1*float64(threads))

	runtime.GOMAXPROCS(1)
	r := rand.New(rand.NewPCG(1, 1))
	for _, k := range all {
		kc := 256
		pa, pb := randSlice(r, k.mr*kc), randSlice(r, kc*k.nr)
		c := make([]float32, k.mr*k.nr)
		// Best of many short runs (the machine is shared).
		g := 0.0
		for rep := 0; rep < 500; rep++ {
			t0 := time.Now()
			for i := 0; i < 20; i++ {
				k.fn(kc, &pa[0], &pb[0], k.nr, &c[0], k.nr, 1, 1)
			}
			g = max(g, 20*2*float64(k.mr*k.nr*kc)/time.Since(t0).Seconds()/1e9)
		}
		kl := map[string]float64{"avx512": 16, "avx2": 8, "generic": 1}[k.name]
		fmt.Printf("micro-kernel %-7s %2dx%-2d kc=256, 1 thread: %6.1f GFLOP/s = %5.1f%% of its 1-core peak (%.1f)\n",
			k.name, k.mr, k.nr, g, 100*g/(fmaUnits*kl*2*hz/1e9), fmaUnits*kl*2*hz/1e9)
	}

	list := shapes()
	switch mode {
	case "quick":
		list = list[:2]
	case "conv":
		list = nil
	}
	fmt.Printf("\n1 thr: GOMAXPROCS=1, GFLOP per process CPU-second. %d thr: GFLOP per wall second (hit by the load);\n", threads)
	fmt.Printf("cpu-eff: %d-thread GFLOP per CPU-second / 1-thread (1.00 = no parallel overhead). Best of 5 runs each.\n", threads)
	fmt.Printf("\n| shape | m | n | k | 1 thr | %%peak1 | %d thr wall | %%peak%d | speedup | cpu-eff | gonum 1 thr | gonum %d thr wall | ours/gonum 1 thr | ours/gonum %d thr |\n", threads, threads, threads, threads)
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range list {
		o := makeOperands(s)
		d := 150 * time.Millisecond
		runtime.GOMAXPROCS(1)
		_, g1 := rate(s.flops(), d, func() { o.ours(s, 1) })
		_, n1 := rate(s.flops(), d, func() { o.gonum(s) })
		runtime.GOMAXPROCS(threads)
		gN, gNc := rate(s.flops(), d, func() { o.ours(s, threads) })
		nN, _ := rate(s.flops(), d, func() { o.gonum(s) })
		tr := ""
		if s.transA {
			tr += " (A^T)"
		}
		if s.transB {
			tr += " (B^T)"
		}
		fmt.Printf("| %s%s | %d | %d | %d | %.1f | %.0f%% | %.1f | %.0f%% | %.2fx | %.2f | %.1f | %.1f | %.1fx | %.1fx |\n",
			s.name, tr, s.m, s.n, s.k, g1, 100*g1/peak1, gN, 100*gN/(peak1*float64(threads)), gN/g1, gNc/g1, n1, nN, g1/n1, gN/nN)
	}
	if mode != "quick" {
		convTable(threads, peak1)
	}
	fmt.Printf("load after: %s\n", loadavg())
}

// convTable compares, for one image of each U-Net level, a 3x3x3 convolution
// as implicit GEMM (SgemmFunc with the im2col3 generator) against explicit
// im2col followed by SgemmStrided (im2col time included).
func convTable(threads int, peak1 float64) {
	fmt.Printf("\n3x3x3 conv, one image, C->C channels: implicit GEMM (SgemmFunc) vs im2col + SgemmStrided, GFLOP/s\n")
	fmt.Printf("| level | C | D x H x W | implicit 1 thr | %%peak1 | im2col+gemm 1 thr | implicit/im2col | implicit %d thr wall | im2col+gemm %d thr wall |\n", threads, threads)
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for i, s := range [][4]int{{16, 40, 56, 40}, {32, 20, 28, 20}, {64, 10, 14, 10}, {128, 5, 7, 5}} {
		C, D, H, W := s[0], s[1], s[2], s[3]
		r := rand.New(rand.NewPCG(3, 3))
		in, w := randSlice(r, C*D*H*W), randSlice(r, C*C*27)
		n, k := D*H*W, C*27
		out, col := make([]float32, C*n), make([]float32, k*n)
		gen := im2col3(in, C, D, H, W)
		implicit := func(workers int) func() {
			return func() {
				if err := SgemmFunc(workers, false, C, n, k, 1, w, k, gen, 0, out, n); err != nil {
					panic(err)
				}
			}
		}
		explicit := func(workers int) func() {
			return func() {
				gen(col, n, 0, k, 0, n)
				if err := SgemmStrided(workers, false, false, C, n, k, 1, 1, w, k, 0, col, n, 0, 0, out, n, 0); err != nil {
					panic(err)
				}
			}
		}
		flops := 2 * float64(C) * float64(n) * float64(k)
		d := 150 * time.Millisecond
		runtime.GOMAXPROCS(1)
		_, i1 := rate(flops, d, implicit(1))
		_, e1 := rate(flops, d, explicit(1))
		runtime.GOMAXPROCS(threads)
		iN, _ := rate(flops, d, implicit(threads))
		eN, _ := rate(flops, d, explicit(threads))
		fmt.Printf("| %d | %d | %dx%dx%d | %.1f | %.0f%% | %.1f | %.2fx | %.1f | %.1f |\n", i, C, D, H, W, i1, 100*i1/peak1, e1, i1/e1, iN, eN)
	}
}

// TestScalingProbe estimates multi-core scaling on a loaded machine: it
// alternates many short runs with 1 and GOMAXPROCS workers and keeps the
// best wall-clock rate of each, i.e. the runs that found the cores free.
// Enable with GEMM_SCALING=1.
func TestScalingProbe(t *testing.T) {
	if os.Getenv("GEMM_SCALING") == "" {
		t.Skip("set GEMM_SCALING=1 to run the scaling probe")
	}
	threads := runtime.GOMAXPROCS(0)
	fmt.Printf("scaling probe, load before %s: best wall GFLOP/s of 200 alternating runs\n", loadavg())
	fmt.Printf("| shape | m | n | k | 1 worker | %d workers | speedup |\n|---|---|---|---|---|---|---|\n", threads)
	for _, s := range []shape{
		{name: "square1024", m: 1024, n: 1024, k: 1024},
		{name: "conv 32x27*32", m: 32, n: 22400, k: 864},
		{name: "conv 64x27*64", m: 64, n: 2800, k: 1728},
		{name: "conv 16x27*16 (n/8)", m: 16, n: 22400, k: 432},
	} {
		o := makeOperands(s)
		o.ours(s, threads)
		var best [2]float64
		for rep := 0; rep < 200; rep++ {
			for i, w := range []int{1, threads} {
				t0 := time.Now()
				o.ours(s, w)
				best[i] = max(best[i], s.flops()/time.Since(t0).Seconds()/1e9)
			}
		}
		fmt.Printf("| %s | %d | %d | %d | %.1f | %.1f | %.2fx |\n", s.name, s.m, s.n, s.k, best[0], best[1], best[1]/best[0])
	}
	fmt.Printf("load after: %s\n", loadavg())
}
