package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naive is the reference triple loop, accumulating in float64.
func naive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				ia, ib := i*lda+p, p*ldb+j
				if transA {
					ia = p*lda + i
				}
				if transB {
					ib = j*ldb + p
				}
				av, bv := a[ia], b[ib]
				s += float64(av) * float64(bv)
			}
			r := float64(alpha) * s
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(r)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// withKernel runs f once per available micro-kernel, with B packed and
// with B read in place (for any m).
func withKernel(t *testing.T, f func(t *testing.T)) {
	for _, name := range Kernels() {
		for _, direct := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/directB=%v", name, direct), func(t *testing.T) {
				prev, err := SetKernel(name)
				if err != nil {
					t.Fatal(err)
				}
				prevMax := directBMaxM
				directBMaxM = map[bool]int{false: -1, true: math.MaxInt}[direct]
				defer func() { SetKernel(prev); directBMaxM = prevMax }()
				f(t)
			})
		}
	}
}

// check runs one case through SgemmStrided and the reference, and compares
// every element of C (including the padding between rows, which must be left
// untouched).
func check(t testing.TB, r *rand.Rand, workers int, transA, transB bool, m, n, k, batch int, alpha, beta float32, pad int) {
	t.Helper()
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb, ldc := max(ac, 1)+pad, max(bc, 1)+pad, max(n, 1)+pad
	sa, sb, sc := ar*lda+pad, br*ldb, m*ldc+3
	a := randSlice(r, max(batch, 1)*sa)
	b := randSlice(r, max(batch, 1)*sb)
	c := randSlice(r, max(batch, 1)*sc)
	if beta == 0 && m > 0 && n > 0 {
		c[0] = float32(math.NaN()) // must not propagate when beta == 0
	}
	want := append([]float32(nil), c...)
	for i := 0; i < batch; i++ {
		naive(transA, transB, m, n, k, alpha, a[i*sa:], lda, b[i*sb:], ldb, beta, want[i*sc:], ldc)
	}
	if err := SgemmStrided(workers, transA, transB, m, n, k, batch, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc); err != nil {
		t.Fatalf("m=%d n=%d k=%d: %v", m, n, k, err)
	}
	tol := 1e-5 * float64(k+1) * (math.Abs(float64(alpha)) + math.Abs(float64(beta)) + 1)
	for i := range c {
		if d := math.Abs(float64(c[i] - want[i])); !(d <= tol) {
			t.Fatalf("workers=%d tA=%v tB=%v m=%d n=%d k=%d batch=%d alpha=%v beta=%v pad=%d: c[%d]=%v want %v",
				workers, transA, transB, m, n, k, batch, alpha, beta, pad, i, c[i], want[i])
		}
	}
}

func TestSgemmShapes(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		sizes := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 24, 25, 47, 48, 49, 97}
		scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}, {2, float32(math.Copysign(0, -1))}}
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				iters := 60
				if testing.Short() {
					iters = 20
				}
				for i := 0; i < iters; i++ {
					m, n, k := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
					s := scalars[r.IntN(len(scalars))]
					check(t, r, 1+r.IntN(3), tA, tB, m, n, k, 1, s[0], s[1], r.IntN(3))
				}
			}
		}
	})
}

// TestSgemmBlocks crosses the MC/KC/NC block boundaries of every kernel.
func TestSgemmBlocks(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		cases := [][3]int{{130, 70, 300}, {200, 3100, 17}, {9, 3200, 520}, {257, 50, 513}, {1, 6000, 3}, {300, 1, 260}}
		if testing.Short() {
			cases = cases[:2]
		}
		for _, c := range cases {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					check(t, r, 2, tA, tB, c[0], c[1], c[2], 1, 1.5, 0.25, 1)
				}
			}
		}
	})
}

func TestSgemmBatch(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, workers := range []int{1, 2, 5} {
			check(t, r, workers, false, false, 16, 300, 27, 3, 1, 0, 0)
			check(t, r, workers, true, false, 33, 61, 54, 4, -1, 1, 2)
			check(t, r, workers, false, true, 8, 48, 8, 2, 1, 0.5, 0)
		}
	})
}

// TestSharedA checks strideA = 0 (one weight matrix for every batch entry).
func TestSharedA(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	m, n, k, batch := 16, 100, 27, 3
	w := randSlice(r, m*k)
	x := randSlice(r, batch*k*n)
	y := make([]float32, batch*m*n)
	if err := SgemmStrided(0, false, false, m, n, k, batch, 1, w, k, 0, x, n, k*n, 0, y, n, m*n); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < batch; i++ {
		want := make([]float32, m*n)
		naive(false, false, m, n, k, 1, w, k, x[i*k*n:], n, 0, want, n)
		for j := range want {
			if d := math.Abs(float64(want[j] - y[i*m*n+j])); d > 1e-4 {
				t.Fatalf("batch %d elem %d: %v want %v", i, j, y[i*m*n+j], want[j])
			}
		}
	}
}

func TestSgemmErrors(t *testing.T) {
	buf := make([]float32, 100)
	cases := []struct {
		name                   string
		m, n, k, lda, ldb, ldc int
		a, b, c                []float32
		want                   string
	}{
		{"negative m", -1, 2, 2, 2, 2, 2, buf, buf, buf, "negative size"},
		{"negative k", 2, 2, -3, 2, 2, 2, buf, buf, buf, "negative size"},
		{"small lda", 4, 4, 4, 3, 4, 4, buf, buf, buf, "lda=3"},
		{"small ldc", 4, 4, 4, 4, 4, 2, buf, buf, buf, "ldc=2"},
		{"short A", 4, 4, 4, 4, 4, 4, buf[:15], buf, buf, "A has 15 elements, needs 16"},
		{"short B", 4, 4, 4, 4, 4, 4, buf, nil, buf, "B has 0 elements, needs 16"},
		{"short C", 4, 5, 4, 4, 5, 6, buf, buf, buf[:20], "C has 20 elements, needs 23"},
		{"overflow", math.MaxInt / 4, math.MaxInt / 4, 0, 1, math.MaxInt / 4, math.MaxInt / 4, buf, buf, buf, "overflows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := append([]float32(nil), tc.c...)
			err := SgemmErr(false, false, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, tc.b, tc.ldb, 0, c, tc.ldc)
			if !errors.Is(err, ErrInvalid) || !contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
			for i := range c {
				if c[i] != tc.c[i] {
					t.Fatal("C modified on error")
				}
			}
		})
	}
	if err := SgemmStrided(0, false, false, 2, 2, 2, 2, 1, buf, 2, 4, buf, 2, 4, 0, buf, 2, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("strideC=0 with batch 2: got %v", err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("Sgemm did not panic on invalid arguments")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, buf[:3], 4, buf, 4, 0, buf, 4)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestSetKernel(t *testing.T) {
	if _, err := SetKernel("no-such"); err == nil {
		t.Fatal("unknown kernel accepted")
	}
	if Kernel() == "" || len(Kernels()) == 0 {
		t.Fatal("no kernel")
	}
}

// FuzzSgemm checks random shapes and flags against the reference on every kernel.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint8(1), uint64(1))
	f.Add(uint8(49), uint8(97), uint8(1), uint8(3), uint8(0), uint64(2))
	f.Add(uint8(0), uint8(1), uint8(0), uint8(1), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags, workers uint8, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 9))
		alpha := []float32{1, -2, 0, 0.5}[flags>>2&3]
		beta := []float32{0, 1, -1, 0.25}[flags>>4&3]
		prevMax := directBMaxM
		defer func() { directBMaxM = prevMax }()
		for _, name := range Kernels() {
			prev, _ := SetKernel(name)
			for _, dm := range []int{-1, math.MaxInt} {
				directBMaxM = dm
				check(t, r, int(workers%4), flags&1 != 0, flags&2 != 0, int(m), int(n)*3, int(k), 1+int(flags>>6), alpha, beta, int(seed%3))
			}
			SetKernel(prev)
		}
	})
}

// TestConcurrentCalls runs parallel multiplications from several goroutines
// at once (the pool hands work only to idle goroutines).
func TestConcurrentCalls(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const calls = 6
	m, n, k := 70, 400, 90
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	naive(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	got := make([][]float32, calls)
	errs := make(chan error, calls)
	for i := range got {
		got[i] = make([]float32, m*n)
		go func() {
			errs <- SgemmStrided(2, false, false, m, n, k, 1, 1, a, k, 0, b, n, 0, 0, got[i], n, 0)
		}()
	}
	for range got {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range got {
		for j := range want {
			if d := math.Abs(float64(got[i][j] - want[j])); d > 1e-4 {
				t.Fatalf("call %d: c[%d]=%v want %v", i, j, got[i][j], want[j])
			}
		}
	}
}

// TestNoAllocs checks that a parallel call allocates nothing once the pools
// are warm.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := rand.New(rand.NewPCG(31, 32))
	m, n, k := 64, 512, 200
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	f := func() {
		if err := SgemmStrided(2, false, true, m, n, k, 1, 1, a, k, 0, b, k, 0, 0, c, n, 0); err != nil {
			t.Fatal(err)
		}
	}
	f()
	if allocs := testing.AllocsPerRun(50, f); allocs != 0 {
		t.Fatalf("%v allocations per call", allocs)
	}
}
