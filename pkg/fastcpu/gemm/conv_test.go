package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// im2col3 returns a PackFunc producing the im2col matrix of a 3x3x3,
// stride 1, zero-padding 1 convolution of one channels-first image
// in[C, D, H, W]: row p = (c, kz, ky, kx) (kx fastest), column j = (z, y, x)
// (x fastest). Runs along x are copied, out-of-volume taps are zero.
func im2col3(in []float32, C, D, H, W int) PackFunc {
	return func(dst []float32, ld, p0, kc, j0, nc int) {
		for p := 0; p < kc; p++ {
			row := dst[p*ld : p*ld+nc]
			q := p0 + p
			c, r := q/27, q%27
			dz, dy, dx := r/9-1, r/3%3-1, r%3-1
			x, y, z := j0%W, j0/W%H, j0/(W*H)
			for o := 0; o < nc; {
				run := min(W-x, nc-o)
				seg := row[o : o+run]
				iz, iy := z+dz, y+dy
				if iz < 0 || iz >= D || iy < 0 || iy >= H {
					clear(seg)
				} else {
					src := in[((c*D+iz)*H+iy)*W : ((c*D+iz)*H+iy+1)*W]
					lo, hi := max(0, -(x+dx)), min(run, W-(x+dx)) // valid t: 0 <= x+t+dx < W
					clear(seg[:lo])
					if hi > lo {
						copy(seg[lo:hi], src[x+lo+dx:x+hi+dx])
					}
					clear(seg[max(hi, lo):])
				}
				o += run
				x += run
				if x == W {
					x, y = 0, y+1
					if y == H {
						y, z = 0, z+1
					}
				}
			}
		}
	}
}

// conv3Direct is the reference 3x3x3 convolution: out[o, z, y, x].
func conv3Direct(in, w []float32, C, O, D, H, W int) []float32 {
	out := make([]float32, O*D*H*W)
	for o := 0; o < O; o++ {
		for z := 0; z < D; z++ {
			for y := 0; y < H; y++ {
				for x := 0; x < W; x++ {
					var s float64
					for c := 0; c < C; c++ {
						for t := 0; t < 27; t++ {
							iz, iy, ix := z+t/9-1, y+t/3%3-1, x+t%3-1
							if iz >= 0 && iz < D && iy >= 0 && iy < H && ix >= 0 && ix < W {
								s += float64(w[(o*C+c)*27+t]) * float64(in[((c*D+iz)*H+iy)*W+ix])
							}
						}
					}
					out[((o*D+z)*H+y)*W+x] = float32(s)
				}
			}
		}
	}
	return out
}

func TestSgemmFuncConv(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, sz := range [][5]int{{3, 5, 4, 6, 7}, {2, 17, 1, 1, 50}, {4, 9, 3, 5, 3}, {2, 9, 6, 10, 11}, {10, 3, 3, 4, 5}} {
			C, O, D, H, W := sz[0], sz[1], sz[2], sz[3], sz[4]
			in, w := randSlice(r, C*D*H*W), randSlice(r, O*C*27)
			want := conv3Direct(in, w, C, O, D, H, W)
			got := make([]float32, len(want))
			for i := range got {
				got[i] = float32(math.NaN())
			}
			if err := SgemmFunc(2, false, O, D*H*W, C*27, 1, w, C*27, im2col3(in, C, D, H, W), 0, got, D*H*W); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); !(d < 1e-4) {
					t.Fatalf("%v: out[%d]=%v want %v", sz, i, got[i], want[i])
				}
			}
		}
	})
}

// TestSgemmFunc checks SgemmFunc against SgemmStrided-style reference with a
// PackFunc reading an explicit (possibly transposed) B.
func TestSgemmFunc(t *testing.T) {
	withKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for i := 0; i < 40; i++ {
			m, n, k := r.IntN(40), r.IntN(130), r.IntN(300)
			transA, transB := r.IntN(2) == 1, r.IntN(2) == 1
			alpha, beta := float32(r.IntN(3))-1, float32(r.IntN(3))*0.5
			lda := max(k, 1)
			if transA {
				lda = max(m, 1)
			}
			ldb := max(n, 1)
			if transB {
				ldb = max(k, 1)
			}
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			c := randSlice(r, m*n)
			want := append([]float32(nil), c...)
			naive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, want, max(n, 1))
			pack := func(dst []float32, ld, p0, kc, j0, nc int) {
				for p := 0; p < kc; p++ {
					for j := 0; j < nc; j++ {
						if transB {
							dst[p*ld+j] = b[(j0+j)*ldb+p0+p]
						} else {
							dst[p*ld+j] = b[(p0+p)*ldb+j0+j]
						}
					}
				}
			}
			if err := SgemmFunc(1+r.IntN(3), transA, m, n, k, alpha, a, lda, pack, beta, c, max(n, 1)); err != nil {
				t.Fatal(err)
			}
			for j := range c {
				if d := math.Abs(float64(c[j] - want[j])); !(d < 1e-4*float64(k+1)) {
					t.Fatalf("m=%d n=%d k=%d tA=%v tB=%v: c[%d]=%v want %v", m, n, k, transA, transB, j, c[j], want[j])
				}
			}
		}
		if err := SgemmFunc(0, false, 2, 2, 2, 1, make([]float32, 4), 2, nil, 0, make([]float32, 4), 2); err == nil {
			t.Fatal("nil PackFunc accepted")
		}
	})
}

// BenchmarkConv compares a 3x3x3 convolution of one image as implicit GEMM
// (SgemmFunc + im2col3) with explicit im2col followed by SgemmStrided.
func BenchmarkConv(b *testing.B) {
	for _, s := range [][5]int{{16, 16, 40, 56, 40}, {32, 32, 20, 28, 20}, {64, 64, 10, 14, 10}} {
		C, O, D, H, W := s[0], s[1], s[2], s[3], s[4]
		r := rand.New(rand.NewPCG(1, 2))
		in, w := randSlice(r, C*D*H*W), randSlice(r, O*C*27)
		n, k := D*H*W, C*27
		out := make([]float32, O*n)
		flops := 2 * float64(O) * float64(n) * float64(k)
		name := fmt.Sprintf("%dto%d_%dx%dx%d", C, O, D, H, W)
		b.Run(name+"/implicit", func(b *testing.B) {
			for b.Loop() {
				if err := SgemmFunc(0, false, O, n, k, 1, w, k, im2col3(in, C, D, H, W), 0, out, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		col := make([]float32, k*n)
		b.Run(name+"/im2col+gemm", func(b *testing.B) {
			gen := im2col3(in, C, D, H, W)
			for b.Loop() {
				gen(col, n, 0, k, 0, n)
				if err := SgemmStrided(0, false, false, O, n, k, 1, 1, w, k, 0, col, n, 0, 0, out, n, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
