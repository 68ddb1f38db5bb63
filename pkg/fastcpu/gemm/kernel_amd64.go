//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:generate go run gen_asm.go

// kernel8x48AVX512 computes an 8x48 tile: C = alpha*A*B + beta*C (C not read
// when beta is +0), A packed 8 per k step, B rows ldb elements apart. k >= 1.
//
//go:noescape
func kernel8x48AVX512(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// kernel4x24AVX2 is the AVX2+FMA 4x24 tile kernel, same contract.
//
//go:noescape
func kernel4x24AVX2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// transpose8 writes dst[c*dstStride + r] = src[r*ld + c] for r < 8 and
// c < 8*blocks (AVX).
//
//go:noescape
func transpose8(dst *float32, dstStride int, src *float32, ld int, blocks int)

// addChain runs 8n dependent integer adds (8n cycles); n >= 1.
//
//go:noescape
func addChain(n int) int

var (
	kernAVX512 = &kernel{name: "avx512", mr: 8, nr: 48, kc: 256, mc: 128, nc: 3072, fn: kernel8x48AVX512}
	kernAVX2   = &kernel{name: "avx2", mr: 4, nr: 24, kc: 256, mc: 96, nc: 3072, fn: kernel4x24AVX2}
)

func init() {
	all = append(all, kernGeneric)
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		all = append(all, kernAVX2, kernAVX512)
		transpose8x8 = transpose8
		active = kernAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		all = append(all, kernAVX2)
		active = kernAVX2
		transpose8x8 = transpose8
	default:
		active = kernGeneric
	}
}
