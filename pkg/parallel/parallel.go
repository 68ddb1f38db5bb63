// Package parallel runs loops over index ranges on several goroutines.
package parallel

import (
	"runtime"
	"sync"
)

// For calls fn(lo, hi) on up to workers contiguous chunks of [0, n) at once
// and waits for them; workers <= 0 means GOMAXPROCS. With one worker (or n <=
// 1) fn runs in the calling goroutine.
func For(n, workers int, fn func(lo, hi int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
