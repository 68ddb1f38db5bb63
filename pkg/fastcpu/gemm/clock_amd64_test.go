//go:build amd64 && !purego

package gemm

import "time"

// measuredClockHz times a chain of dependent adds (one per cycle), best of
// many short runs so that time slices lost to other processes do not count.
func measuredClockHz() float64 {
	best := 0.0
	for i := 0; i < 500; i++ {
		const n = 1 << 15
		t := time.Now()
		addChain(n)
		if hz := 8 * n / time.Since(t).Seconds(); hz > best {
			best = hz
		}
	}
	return best
}
