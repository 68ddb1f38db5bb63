//go:build !linux

package gemm

import "time"

var start = time.Now()

// cpuNow falls back to wall time where process CPU time is not read.
func cpuNow() time.Duration { return time.Since(start) }
