package fastcpu

import (
	"sort"
	"sync"
)

// Scratch buffers for the native kernels. Unlike a sync.Pool they survive garbage collections:
// large buffers that are dropped and re-allocated cost page faults on every first touch.
// At most maxScratchRetained bytes are kept.
const maxScratchRetained = 1 << 30

var scratch struct {
	sync.Mutex
	free     []*[]float32 // sorted by capacity
	retained int          // bytes in free
}

// getScratch returns a buffer of length n (contents undefined); give it back with putScratch.
func getScratch(n int) *[]float32 {
	scratch.Lock()
	i := sort.Search(len(scratch.free), func(i int) bool { return cap(*scratch.free[i]) >= n })
	if i < len(scratch.free) && cap(*scratch.free[i]) <= 2*n+4096 {
		p := scratch.free[i]
		scratch.free = append(scratch.free[:i], scratch.free[i+1:]...)
		scratch.retained -= 4 * cap(*p)
		scratch.Unlock()
		*p = (*p)[:n]
		return p
	}
	scratch.Unlock()
	b := make([]float32, n)
	return &b
}

// putScratch returns a buffer obtained from getScratch.
func putScratch(p *[]float32) {
	scratch.Lock()
	defer scratch.Unlock()
	scratch.retained += 4 * cap(*p)
	i := sort.Search(len(scratch.free), func(i int) bool { return cap(*scratch.free[i]) >= cap(*p) })
	scratch.free = append(scratch.free, nil)
	copy(scratch.free[i+1:], scratch.free[i:])
	scratch.free[i] = p
	for scratch.retained > maxScratchRetained && len(scratch.free) > 0 {
		// Drop the largest.
		last := scratch.free[len(scratch.free)-1]
		scratch.free = scratch.free[:len(scratch.free)-1]
		scratch.retained -= 4 * cap(*last)
	}
}
