//go:build linux

package gemm

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuNow is the CPU time consumed by the whole process: on a shared machine
// it does not count the time slices given to other processes.
func cpuNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
