//go:build ignore

// gen_asm writes kernel_amd64.s, the register-blocked micro-kernels.
// Run with: go run gen_asm.go (go generate ./pkg/fastcpu/gemm).
package main

import (
	"fmt"
	"os"
	"strings"
)

var sb strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&sb, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&sb, "%s:\n", l) }

// Argument frame shared by all kernels:
// func(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
const frame = "$0-56"

func prologue(name string) {
	fmt.Fprintf(&sb, "\n// func %s(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)\n", name)
	fmt.Fprintf(&sb, "TEXT ·%s(SB), NOSPLIT, %s\n", name, frame)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ b+16(FP), DI")
	p("MOVQ ldb+24(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ c+32(FP), DX")
	p("MOVQ ldc+40(FP), R9")
	p("SHLQ $2, R9")
}

// avx512 generates an mr x (16*nv) kernel: accumulators Z0.., B rows in
// Z(mr*nv).., A elements broadcast into Z28/Z29 (regBcast; measured 99% of
// peak on Zen 5) or used as embedded-broadcast memory operands (about 85%).
func avx512(name string, mr, nv, unroll int, regBcast bool) {
	prologue(name)
	acc := func(r, v int) string { return fmt.Sprintf("Z%d", r*nv+v) }
	breg := func(v int) string { return fmt.Sprintf("Z%d", mr*nv+v) }
	// prefetch C rows
	p("MOVQ DX, R10")
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v += 1 {
			p("PREFETCHT0 %d(R10)", v*64)
		}
		p("ADDQ R9, R10")
	}
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			p("VPXORD %s, %s, %s", acc(r, v), acc(r, v), acc(r, v))
		}
	}
	step := func() {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %d(DI), %s", v*64, breg(v))
		}
		for r := 0; r < mr; r++ {
			if regBcast {
				// alternate two broadcast registers to decouple rows
				a := fmt.Sprintf("Z%d", 28+r%2)
				p("VBROADCASTSS %d(SI), %s", 4*r, a)
				for v := 0; v < nv; v++ {
					p("VFMADD231PS %s, %s, %s", a, breg(v), acc(r, v))
				}
				continue
			}
			for v := 0; v < nv; v++ {
				p("VFMADD231PS.BCST %d(SI), %s, %s", 4*r, breg(v), acc(r, v))
			}
		}
		p("ADDQ $%d, SI", 4*mr)
		p("ADDQ R8, DI")
	}
	if unroll > 1 {
		p("CMPQ CX, $%d", unroll)
		p("JLT %s_tail", name)
		label(name + "_loop")
		for u := 0; u < unroll; u++ {
			step()
		}
		p("SUBQ $%d, CX", unroll)
		p("CMPQ CX, $%d", unroll)
		p("JGE %s_loop", name)
		label(name + "_tail")
		p("TESTQ CX, CX")
		p("JZ %s_store", name)
	}
	label(name + "_one")
	step()
	p("DECQ CX")
	p("JNZ %s_one", name)
	label(name + "_store")
	alpha, beta := fmt.Sprintf("Z%d", 30), fmt.Sprintf("Z%d", 31)
	p("VBROADCASTSS alpha+48(FP), %s", alpha)
	p("MOVL beta+52(FP), AX")
	p("TESTL AX, AX")
	p("JZ %s_nobeta", name)
	p("VBROADCASTSS beta+52(FP), %s", beta)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			p("VMULPS %s, %s, %s", alpha, acc(r, v), acc(r, v))
			p("VFMADD231PS %d(DX), %s, %s", v*64, beta, acc(r, v))
			p("VMOVUPS %s, %d(DX)", acc(r, v), v*64)
		}
		p("ADDQ R9, DX")
	}
	p("VZEROUPPER")
	p("RET")
	label(name + "_nobeta")
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			p("VMULPS %s, %s, %s", alpha, acc(r, v), acc(r, v))
			p("VMOVUPS %s, %d(DX)", acc(r, v), v*64)
		}
		p("ADDQ R9, DX")
	}
	p("VZEROUPPER")
	p("RET")
}

// avx2 generates an mr x (8*nv) FMA kernel: accumulators Y0.., B rows in
// Y(mr*nv).., broadcast register Y15.
func avx2(name string, mr, nv, unroll int) {
	prologue(name)
	acc := func(r, v int) string { return fmt.Sprintf("Y%d", r*nv+v) }
	breg := func(v int) string { return fmt.Sprintf("Y%d", mr*nv+v) }
	if mr*nv+nv > 15 {
		panic("too many registers")
	}
	p("MOVQ DX, R10")
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v += 2 {
			p("PREFETCHT0 %d(R10)", v*32)
		}
		p("ADDQ R9, R10")
	}
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			p("VXORPS %s, %s, %s", acc(r, v), acc(r, v), acc(r, v))
		}
	}
	step := func() {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %d(DI), %s", v*32, breg(v))
		}
		for r := 0; r < mr; r++ {
			p("VBROADCASTSS %d(SI), Y15", 4*r)
			for v := 0; v < nv; v++ {
				p("VFMADD231PS %s, Y15, %s", breg(v), acc(r, v))
			}
		}
		p("ADDQ $%d, SI", 4*mr)
		p("ADDQ R8, DI")
	}
	if unroll > 1 {
		p("CMPQ CX, $%d", unroll)
		p("JLT %s_tail", name)
		label(name + "_loop")
		for u := 0; u < unroll; u++ {
			step()
		}
		p("SUBQ $%d, CX", unroll)
		p("CMPQ CX, $%d", unroll)
		p("JGE %s_loop", name)
		label(name + "_tail")
		p("TESTQ CX, CX")
		p("JZ %s_store", name)
	}
	label(name + "_one")
	step()
	p("DECQ CX")
	p("JNZ %s_one", name)
	label(name + "_store")
	// alpha in Y15; beta broadcast into the B registers' first slot.
	p("VBROADCASTSS alpha+48(FP), Y15")
	p("MOVL beta+52(FP), AX")
	p("TESTL AX, AX")
	p("JZ %s_nobeta", name)
	beta := breg(0)
	p("VBROADCASTSS beta+52(FP), %s", beta)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			p("VMULPS Y15, %s, %s", acc(r, v), acc(r, v))
			p("VFMADD231PS %d(DX), %s, %s", v*32, beta, acc(r, v))
			p("VMOVUPS %s, %d(DX)", acc(r, v), v*32)
		}
		p("ADDQ R9, DX")
	}
	p("VZEROUPPER")
	p("RET")
	label(name + "_nobeta")
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			p("VMULPS Y15, %s, %s", acc(r, v), acc(r, v))
			p("VMOVUPS %s, %d(DX)", acc(r, v), v*32)
		}
		p("ADDQ R9, DX")
	}
	p("VZEROUPPER")
	p("RET")
}

// transpose8 transposes 8 source rows, 8 columns at a time, with the AVX
// unpack/shuffle/permute 8x8 network.
func transpose8() {
	sb.WriteString("\n// func transpose8(dst *float32, dstStride int, src *float32, ld int, blocks int)\n")
	sb.WriteString("TEXT ·transpose8(SB), NOSPLIT, $0-40\n")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ dstStride+8(FP), R10")
	p("SHLQ $2, R10")
	p("LEAQ (R10)(R10*2), R11")
	p("MOVQ src+16(FP), SI")
	p("MOVQ ld+24(FP), R8")
	p("SHLQ $2, R8")
	p("LEAQ (R8)(R8*2), R9")
	p("MOVQ blocks+32(FP), CX")
	p("LEAQ (SI)(R8*4), AX")
	p("LEAQ (DI)(R10*4), DX")
	p("MOVQ R10, BX")
	p("SHLQ $3, BX") // 8 destination rows
	p("TESTQ CX, CX")
	p("JZ transpose8_done")
	label("transpose8_loop")
	p("VMOVUPS (SI), Y0")
	p("VMOVUPS (SI)(R8*1), Y1")
	p("VMOVUPS (SI)(R8*2), Y2")
	p("VMOVUPS (SI)(R9*1), Y3")
	p("VMOVUPS (AX), Y4")
	p("VMOVUPS (AX)(R8*1), Y5")
	p("VMOVUPS (AX)(R8*2), Y6")
	p("VMOVUPS (AX)(R9*1), Y7")
	for i := 0; i < 4; i++ {
		p("VUNPCKLPS Y%d, Y%d, Y%d", 2*i+1, 2*i, 8+2*i)
		p("VUNPCKHPS Y%d, Y%d, Y%d", 2*i+1, 2*i, 9+2*i)
	}
	// Y8..Y15 = t0..t7
	p("VSHUFPS $0x44, Y10, Y8, Y0")
	p("VSHUFPS $0xEE, Y10, Y8, Y1")
	p("VSHUFPS $0x44, Y11, Y9, Y2")
	p("VSHUFPS $0xEE, Y11, Y9, Y3")
	p("VSHUFPS $0x44, Y14, Y12, Y4")
	p("VSHUFPS $0xEE, Y14, Y12, Y5")
	p("VSHUFPS $0x44, Y15, Y13, Y6")
	p("VSHUFPS $0xEE, Y15, Y13, Y7")
	for i := 0; i < 4; i++ {
		p("VPERM2F128 $0x20, Y%d, Y%d, Y%d", 4+i, i, 8+i)
		p("VPERM2F128 $0x31, Y%d, Y%d, Y%d", 4+i, i, 12+i)
	}
	p("VMOVUPS Y8, (DI)")
	p("VMOVUPS Y9, (DI)(R10*1)")
	p("VMOVUPS Y10, (DI)(R10*2)")
	p("VMOVUPS Y11, (DI)(R11*1)")
	p("VMOVUPS Y12, (DX)")
	p("VMOVUPS Y13, (DX)(R10*1)")
	p("VMOVUPS Y14, (DX)(R10*2)")
	p("VMOVUPS Y15, (DX)(R11*1)")
	p("ADDQ $32, SI")
	p("ADDQ $32, AX")
	p("ADDQ BX, DI")
	p("ADDQ BX, DX")
	p("DECQ CX")
	p("JNZ transpose8_loop")
	label("transpose8_done")
	p("VZEROUPPER")
	p("RET")
}

func main() {
	sb.WriteString("// Code generated by gen_asm.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	avx512("kernel8x48AVX512", 8, 3, 2, true)
	avx2("kernel4x24AVX2", 4, 3, 2)
	transpose8()
	// addChain runs n iterations of 8 dependent 1-cycle adds: it takes 8n
	// core cycles, which lets benchmarks measure the clock.
	sb.WriteString("\n// func addChain(n int) int\nTEXT ·addChain(SB), NOSPLIT, $0-16\n")
	p("MOVQ n+0(FP), CX")
	p("XORQ AX, AX")
	label("addChain_loop")
	for i := 0; i < 8; i++ {
		p("ADDQ $1, AX")
	}
	p("DECQ CX")
	p("JNZ addChain_loop")
	p("MOVQ AX, ret+8(FP)")
	p("RET")
	if err := os.WriteFile("kernel_amd64.s", []byte(sb.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
