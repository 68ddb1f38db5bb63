package fastcpu

import (
	"sync"
	"time"
)

// OpStats accumulates executions of one kind of step.
type OpStats struct {
	Calls int
	FLOPs float64 // multiply-adds count 2 (native convolutions and dot products only)
	Time  time.Duration
}

// GFLOPS is the achieved rate (0 without FLOPs).
func (s OpStats) GFLOPS() float64 {
	if s.Time <= 0 {
		return 0
	}
	return s.FLOPs / s.Time.Seconds() / 1e9
}

// Stats of all fastcpu executions since the last ResetStats, by kind: "ConvGeneral",
// "DotGeneral" (native kernels), "SimpleGo" (sub-graphs of the remaining ops) and the native
// elementwise/reduction kernels under their op names.
type Stats map[string]OpStats

var (
	statsMu sync.Mutex
	stats   = Stats{}
)

func addStats(kind string, flops float64, d time.Duration) {
	statsMu.Lock()
	s := stats[kind]
	s.Calls++
	s.FLOPs += flops
	s.Time += d
	stats[kind] = s
	statsMu.Unlock()
}

// ReadStats returns a copy of the execution statistics.
func ReadStats() Stats {
	statsMu.Lock()
	defer statsMu.Unlock()
	out := make(Stats, len(stats))
	for k, v := range stats {
		out[k] = v
	}
	return out
}

// ResetStats clears the execution statistics.
func ResetStats() {
	statsMu.Lock()
	stats = Stats{}
	statsMu.Unlock()
}
