package gemm

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTune compares blocking parameters on one shape, interleaving the
// variants to share the noise of a loaded machine. GEMM_TUNE="m,n,k,tA,tB,workers;kc,mc,nc[,directBMaxM];..."
func TestTune(t *testing.T) {
	spec := os.Getenv("GEMM_TUNE")
	if spec == "" {
		t.Skip("GEMM_TUNE not set")
	}
	parts := strings.Split(spec, ";")
	v := atoi(strings.Split(parts[0], ","))
	s := shape{m: v[0], n: v[1], k: v[2], transA: v[3] != 0, transB: v[4] != 0}
	workers := v[5]
	o := makeOperands(s)
	base := *active
	defer func() { *active = base }()
	best := make([]float64, len(parts)-1)
	prev := runtime.GOMAXPROCS(max(workers, 1))
	defer runtime.GOMAXPROCS(prev)
	for round := 0; round < 2; round++ {
		for i, p := range parts[1:] {
			b := atoi(strings.Split(p, ","))
			*active = base
			active.kc, active.mc, active.nc = b[0], b[1], b[2]
			prevMax := directBMaxM
			if len(b) > 3 {
				directBMaxM = b[3]
			}
			w, c := rate(s.flops(), 100*time.Millisecond, func() { o.ours(s, workers) })
			if workers > 1 {
				c = w
			}
			best[i] = max(best[i], c)
			directBMaxM = prevMax
		}
	}
	fmt.Printf("%v workers=%d load %s\n", s, workers, loadavg())
	for i, p := range parts[1:] {
		fmt.Printf("  kc,mc,nc=%-16s %7.1f GFLOP/s\n", p, best[i])
	}
}

func atoi(ss []string) []int {
	r := make([]int, len(ss))
	for i, s := range ss {
		r[i], _ = strconv.Atoi(s)
	}
	return r
}
