package metrics

import (
	"math"
	"runtime"
	"sync"
)

// SquaredEDT returns, for every voxel of a grid of the given shape (x
// fastest) and spacing in mm, the squared Euclidean distance in mm² to the
// nearest voxel where feature is true, or +Inf everywhere when no voxel is.
//
// It is the exact separable algorithm of Felzenszwalb and Huttenlocher
// ("Distance transforms of sampled functions", 2012): D = min_q |p-q|² is
// computed as three 1D passes, D_x(p) = min_{qx} (s_x (p_x-q_x))² + f(q),
// then along y and z on the result, each pass taking the lower envelope of
// the parabolas rooted at the finite samples. Lines of each pass are
// processed in parallel.
func SquaredEDT(feature []bool, shape [3]int, spacing [3]float64) []float64 {
	n := shape[0] * shape[1] * shape[2]
	d := make([]float64, n)
	inf := math.Inf(1)
	for i := range d {
		if !feature[i] {
			d[i] = inf
		}
	}
	strides := [3]int{1, shape[0], shape[0] * shape[1]}
	for axis := 0; axis < 3; axis++ {
		transformAxis(d, shape, strides, axis, spacing[axis])
	}
	return d
}

// EDT is the square root of SquaredEDT: distances in mm.
func EDT(feature []bool, shape [3]int, spacing [3]float64) []float64 {
	d := SquaredEDT(feature, shape, spacing)
	for i, v := range d {
		d[i] = math.Sqrt(v)
	}
	return d
}

// transformAxis runs the 1D transform along every line parallel to axis.
func transformAxis(d []float64, shape, strides [3]int, axis int, s float64) {
	a, b := (axis+1)%3, (axis+2)%3
	lines := shape[a] * shape[b]
	n := shape[axis]
	workers := min(runtime.GOMAXPROCS(0), max(1, lines*n/4096))
	var wg sync.WaitGroup
	chunk := (lines + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min(lines, (w+1)*chunk)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f := make([]float64, n)
			out := make([]float64, n)
			v := make([]int, n)
			z := make([]float64, n+1)
			for l := lo; l < hi; l++ {
				base := (l%shape[a])*strides[a] + (l/shape[a])*strides[b]
				st := strides[axis]
				for i := 0; i < n; i++ {
					f[i] = d[base+i*st]
				}
				envelope1D(f, out, v, z, s)
				for i := 0; i < n; i++ {
					d[base+i*st] = out[i]
				}
			}
		}(lo, hi)
	}
	wg.Wait()
}

// envelope1D sets out[p] = min_q (s(p-q))² + f[q] over the finite f[q]
// (+Inf when none), with v and z as scratch (len n and n+1).
func envelope1D(f, out []float64, v []int, z []float64, s float64) {
	n := len(f)
	k := -1
	for q := 0; q < n; q++ {
		if math.IsInf(f[q], 1) {
			continue
		}
		xq := s * float64(q)
		if k < 0 {
			k = 0
			v[0], z[0], z[1] = q, math.Inf(-1), math.Inf(1)
			continue
		}
		var x float64
		for {
			r := v[k]
			xr := s * float64(r)
			// Abscissa where the parabolas rooted at r and q intersect.
			x = ((f[q] + xq*xq) - (f[r] + xr*xr)) / (2 * (xq - xr))
			if x > z[k] {
				break
			}
			k-- // z[0] = -Inf stops this at k = 0
		}
		k++
		v[k], z[k], z[k+1] = q, x, math.Inf(1)
	}
	if k < 0 {
		for p := range out {
			out[p] = math.Inf(1)
		}
		return
	}
	k = 0
	for p := 0; p < n; p++ {
		xp := s * float64(p)
		for z[k+1] < xp {
			k++
		}
		dp := s * float64(p-v[k])
		out[p] = dp*dp + f[v[k]]
	}
}

// Surface returns the boundary voxels of mask: foreground voxels with a
// background 6-neighbour, voxels outside the grid counting as background
// (mask XOR its erosion by the 3D cross, as scipy's binary_erosion with
// border_value 0, used by MONAI and MedPy). Axes of size 1 are ignored, so
// a 2D image (Z = 1) gets 2D (4-neighbour) surfaces.
func Surface(mask []bool, shape [3]int) []bool {
	X, Y, Z := shape[0], shape[1], shape[2]
	out := make([]bool, len(mask))
	for z := 0; z < Z; z++ {
		for y := 0; y < Y; y++ {
			for x := 0; x < X; x++ {
				i := x + X*(y+Y*z)
				if !mask[i] {
					continue
				}
				out[i] = X > 1 && (x == 0 || x == X-1 || !mask[i-1] || !mask[i+1]) ||
					Y > 1 && (y == 0 || y == Y-1 || !mask[i-X] || !mask[i+X]) ||
					Z > 1 && (z == 0 || z == Z-1 || !mask[i-X*Y] || !mask[i+X*Y])
			}
		}
	}
	return out
}
