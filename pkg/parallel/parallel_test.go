package parallel

import (
	"sync/atomic"
	"testing"
)

func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100} {
		for _, w := range []int{-1, 0, 1, 3, 200} {
			var sum, calls atomic.Int64
			seen := make([]atomic.Int32, n)
			For(n, w, func(lo, hi int) {
				calls.Add(1)
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
					sum.Add(int64(i))
				}
			})
			for i := range seen {
				if seen[i].Load() != 1 {
					t.Fatalf("n=%d w=%d: index %d visited %d times", n, w, i, seen[i].Load())
				}
			}
			if w > 0 && calls.Load() > int64(w) {
				t.Errorf("n=%d w=%d: %d chunks", n, w, calls.Load())
			}
		}
	}
}

func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 5, 100} {
		for _, w := range []int{-1, 0, 1, 3, 200} {
			seen := make([]atomic.Int32, n)
			Each(n, w, func(i int) { seen[i].Add(1) })
			for i := range seen {
				if seen[i].Load() != 1 {
					t.Fatalf("n=%d w=%d: index %d visited %d times", n, w, i, seen[i].Load())
				}
			}
		}
	}
}
