package gemm

import "unsafe"

var kernGeneric = &kernel{name: "generic", mr: 2, nr: 4, kc: 256, mc: 64, nc: 1024, fn: kernel2x4Generic}

// kernel2x4Generic is the portable micro-kernel: a 2x4 tile in 8 scalar
// accumulators (small enough that amd64's 16 float registers hold the tile
// and the operands without spilling). Same contract as the assembly kernels.
func kernel2x4Generic(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32) {
	pa := unsafe.Slice(a, 2*k)
	pb := unsafe.Slice(b, (k-1)*ldb+4)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	for len(pa) >= 2 && len(pb) >= 4 {
		b0, b1, b2, b3 := pb[0], pb[1], pb[2], pb[3]
		a0, a1 := pa[0], pa[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		pa = pa[2:]
		if len(pb) < ldb {
			break
		}
		pb = pb[ldb:]
	}
	cs := unsafe.Slice(c, ldc+4)
	store := func(row []float32, x0, x1, x2, x3 float32) {
		row = row[:4:4]
		if beta == 0 {
			row[0], row[1], row[2], row[3] = alpha*x0, alpha*x1, alpha*x2, alpha*x3
			return
		}
		row[0] = alpha*x0 + beta*row[0]
		row[1] = alpha*x1 + beta*row[1]
		row[2] = alpha*x2 + beta*row[2]
		row[3] = alpha*x3 + beta*row[3]
	}
	store(cs[0:], c00, c01, c02, c03)
	store(cs[ldc:], c10, c11, c12, c13)
}
