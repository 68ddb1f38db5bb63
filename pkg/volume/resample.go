package volume

import (
	"fmt"
	"math"

	"github.com/msdkit/msdkit/pkg/parallel"
)

// Interp is an interpolation mode along one axis.
type Interp int

// Interpolation modes.
const (
	Linear Interp = iota
	Nearest
	// Cubic is Keys' cubic convolution (a = -0.5): interpolating, exact for
	// quadratics, 4 taps per axis; nnU-Net resamples images with cubic splines.
	// Label maps treat it as Linear.
	Cubic
)

func (m Interp) String() string {
	switch m {
	case Nearest:
		return "nearest"
	case Cubic:
		return "cubic"
	}
	return "linear"
}

// MarshalText writes "linear" or "nearest".
func (m Interp) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads "linear" or "nearest".
func (m *Interp) UnmarshalText(b []byte) error {
	switch string(b) {
	case "linear":
		*m = Linear
	case "nearest":
		*m = Nearest
	case "cubic":
		*m = Cubic
	default:
		return fmt.Errorf("volume: interpolation %q: want linear, nearest or cubic", b)
	}
	return nil
}

// AnisotropyThreshold is nnU-Net's ratio of largest to smallest spacing above
// which a volume is resampled in-plane only, with nearest neighbour along the
// low-resolution axis.
const AnisotropyThreshold = 3.0

// ShapeForSpacing is the shape that covers the same extent at spacing target:
// round(shape*spacing/target) with halves to even (numpy's round, as nnU-Net),
// at least 1.
func ShapeForSpacing(shape [3]int, spacing, target [3]float64) [3]int {
	var out [3]int
	for i := range out {
		out[i] = max(1, int(math.RoundToEven(float64(shape[i])*spacing[i]/target[i])))
	}
	return out
}

// SeparateAxis returns the axis nnU-Net resamples separately (nearest, out of
// plane) when going from spacing to target, or -1: the unique largest-spacing
// axis of spacing if its max/min ratio exceeds threshold, else the same test on
// target.
func SeparateAxis(spacing, target [3]float64, threshold float64) int {
	for _, s := range [][3]float64{spacing, target} {
		lo, hi := math.Min(s[0], math.Min(s[1], s[2])), math.Max(s[0], math.Max(s[1], s[2]))
		if hi/lo > threshold {
			axis, n := -1, 0
			for i := range s {
				if s[i] == hi {
					axis, n = i, n+1
				}
			}
			if n == 1 {
				return axis
			}
			return -1
		}
	}
	return -1
}

// AxisModes returns the per-axis interpolation for resampling: mode
// everywhere, nearest along the separate axis (if not -1).
func AxisModes(separate int, mode Interp) [3]Interp {
	m := [3]Interp{mode, mode, mode}
	if separate >= 0 {
		m[separate] = Nearest
	}
	return m
}

// axisMap holds, per output index, the two source indices and the weight of
// the second. Voxel centres are aligned: output o sits at source coordinate
// (o+0.5)*n/m - 0.5, clamped to the source grid (edge values extend).
type axisMap struct {
	i0, i1 []int
	w      []float32
}

func newAxisMap(n, m int, mode Interp) axisMap {
	if mode == Cubic {
		mode = Linear
	}
	a := axisMap{make([]int, m), make([]int, m), make([]float32, m)}
	s := float64(n) / float64(m)
	for o := 0; o < m; o++ {
		c := (float64(o)+0.5)*s - 0.5
		c = math.Max(0, math.Min(float64(n-1), c))
		if mode == Nearest {
			i := int(math.Floor(c + 0.5))
			a.i0[o], a.i1[o] = i, i
			continue
		}
		i := int(math.Floor(c))
		w := c - float64(i)
		if i >= n-1 {
			i, w = n-1, 0
		}
		a.i0[o], a.i1[o], a.w[o] = i, min(i+1, n-1), float32(w)
	}
	return a
}

// resampledGeometry sets the affine and spacing of a volume resampled from
// src to shape with aligned voxel centres.
func resampledGeometry(src *Volume, shape [3]int) *Volume {
	out := &Volume{Shape: shape, Channels: src.Channels}
	var t [4][4]float64
	t[3][3] = 1
	for i := 0; i < 3; i++ {
		s := float64(src.Shape[i]) / float64(shape[i])
		t[i][i] = s
		t[i][3] = 0.5*s - 0.5
		out.Spacing[i] = src.Spacing[i] * s
	}
	out.Affine = matMul(src.Affine, t)
	out.Data = make([]float32, src.Channels*shape[0]*shape[1]*shape[2])
	return out
}

// Resample resamples every channel to shape, interpolating along each axis with
// modes (Linear: trilinear/bilinear; Nearest). Voxel centres are aligned so the
// volume keeps its world extent; spacing and affine are updated.
func (v *Volume) Resample(shape [3]int, modes [3]Interp) *Volume {
	out := resampledGeometry(v, shape)
	if shape == v.Shape {
		copy(out.Data, v.Data)
		return out
	}
	if modes[0] == Cubic || modes[1] == Cubic || modes[2] == Cubic {
		n := v.NumVoxels()
		m := shape[0] * shape[1] * shape[2]
		for c := 0; c < v.Channels; c++ {
			d, sh := v.Data[c*n:(c+1)*n], v.Shape
			for a := 0; a < 3; a++ {
				d, sh = resampleAxis(d, sh, a, shape[a], modes[a])
			}
			copy(out.Data[c*m:(c+1)*m], d)
		}
		return out
	}
	ax, ay, az := newAxisMap(v.Shape[0], shape[0], modes[0]), newAxisMap(v.Shape[1], shape[1], modes[1]), newAxisMap(v.Shape[2], shape[2], modes[2])
	X, Y := v.Shape[0], v.Shape[1]
	n, m := v.NumVoxels(), shape[0]*shape[1]*shape[2]
	for c := 0; c < v.Channels; c++ {
		src, dst := v.Data[c*n:(c+1)*n], out.Data[c*m:(c+1)*m]
		parallel.For(shape[2], 0, func(lo, hi int) {
			for z := lo; z < hi; z++ {
				z0, z1, wz := X*Y*az.i0[z], X*Y*az.i1[z], az.w[z]
				for y := 0; y < shape[1]; y++ {
					y0, y1, wy := X*ay.i0[y], X*ay.i1[y], ay.w[y]
					r00, r01, r10, r11 := src[z0+y0:], src[z0+y1:], src[z1+y0:], src[z1+y1:]
					d := dst[shape[0]*(y+shape[1]*z):]
					for x := 0; x < shape[0]; x++ {
						x0, x1, wx := ax.i0[x], ax.i1[x], ax.w[x]
						a := r00[x0] + wx*(r00[x1]-r00[x0])
						b := r01[x0] + wx*(r01[x1]-r01[x0])
						e := r10[x0] + wx*(r10[x1]-r10[x0])
						f := r11[x0] + wx*(r11[x1]-r11[x0])
						g := a + wy*(b-a)
						h := e + wy*(f-e)
						d[x] = g + wz*(h-g)
					}
				}
			}
		})
	}
	return out
}

// ResampleLabels resamples a label map (channel 0, integer values) to shape the
// nnU-Net way: each label is one-hot encoded, interpolated with modes, and every
// output voxel takes the label with the largest interpolated value (ties go to
// the smaller label). Labels are never mixed into values that do not exist.
func (v *Volume) ResampleLabels(shape [3]int, modes [3]Interp) (*Volume, error) {
	if v.Channels != 1 {
		return nil, fmt.Errorf("volume: label map has %d channels, want 1", v.Channels)
	}
	out := resampledGeometry(v, shape)
	if shape == v.Shape {
		copy(out.Data, v.Data)
		return out, nil
	}
	if _, err := v.LabelCounts(); err != nil {
		return nil, err
	}
	ax, ay, az := newAxisMap(v.Shape[0], shape[0], modes[0]), newAxisMap(v.Shape[1], shape[1], modes[1]), newAxisMap(v.Shape[2], shape[2], modes[2])
	X, Y := v.Shape[0], v.Shape[1]
	src, dst := v.Data, out.Data
	parallel.For(shape[2], 0, func(lo, hi int) {
		var lab [8]float32
		var wt [8]float32
		var acc [MaxLabel + 1]float32
		for z := lo; z < hi; z++ {
			zi := [2]int{X * Y * az.i0[z], X * Y * az.i1[z]}
			zw := [2]float32{1 - az.w[z], az.w[z]}
			for y := 0; y < shape[1]; y++ {
				yi := [2]int{X * ay.i0[y], X * ay.i1[y]}
				yw := [2]float32{1 - ay.w[y], ay.w[y]}
				d := dst[shape[0]*(y+shape[1]*z):]
				for x := 0; x < shape[0]; x++ {
					x0, x1 := ax.i0[x], ax.i1[x]
					r00, r01, r10, r11 := zi[0]+yi[0], zi[0]+yi[1], zi[1]+yi[0], zi[1]+yi[1]
					lab = [8]float32{src[r00+x0], src[r00+x1], src[r01+x0], src[r01+x1], src[r10+x0], src[r10+x1], src[r11+x0], src[r11+x1]}
					same := lab[1] == lab[0] && lab[2] == lab[0] && lab[3] == lab[0] && lab[4] == lab[0] && lab[5] == lab[0] && lab[6] == lab[0] && lab[7] == lab[0]
					if !same {
						xw := [2]float32{1 - ax.w[x], ax.w[x]}
						k := 0
						for dz := 0; dz < 2; dz++ {
							for dy := 0; dy < 2; dy++ {
								for dx := 0; dx < 2; dx++ {
									wt[k] = zw[dz] * yw[dy] * xw[dx]
									k++
								}
							}
						}
					}
					if same {
						d[x] = lab[0]
						continue
					}
					// Sum the weights per label, then take the largest
					// (ties: the smaller label).
					for k := 0; k < 8; k++ {
						acc[int(lab[k])] += wt[k]
					}
					best, bestW := lab[0], float32(-1)
					for k := 0; k < 8; k++ {
						l := int(lab[k])
						if w := acc[l]; w > bestW || (w == bestW && lab[k] < best) {
							best, bestW = lab[k], w
						}
					}
					for k := 0; k < 8; k++ {
						acc[int(lab[k])] = 0
					}
					d[x] = best
				}
			}
		}
	})
	return out, nil
}

// keys is Keys' cubic convolution kernel with a = -0.5.
func keys(t float64) float64 {
	t = math.Abs(t)
	switch {
	case t < 1:
		return (1.5*t-2.5)*t*t + 1
	case t < 2:
		return ((-0.5*t+2.5)*t-4)*t + 2
	}
	return 0
}

// resampleAxis resamples one axis of a single-channel grid to m voxels with
// aligned voxel centres and edge values extended.
func resampleAxis(src []float32, shape [3]int, axis, m int, mode Interp) ([]float32, [3]int) {
	n := shape[axis]
	out := shape
	out[axis] = m
	if n == m {
		return src, shape
	}
	taps := 1
	switch mode {
	case Linear:
		taps = 2
	case Cubic:
		taps = 4
	}
	idx := make([]int, m*taps)
	wt := make([]float32, m*taps)
	s := float64(n) / float64(m)
	for o := 0; o < m; o++ {
		c := math.Max(0, math.Min(float64(n-1), (float64(o)+0.5)*s-0.5))
		switch mode {
		case Nearest:
			idx[o], wt[o] = int(math.Floor(c+0.5)), 1
		case Linear:
			i := min(int(math.Floor(c)), n-1)
			w := c - float64(i)
			idx[2*o], idx[2*o+1] = i, min(i+1, n-1)
			wt[2*o], wt[2*o+1] = float32(1-w), float32(w)
		case Cubic:
			i := int(math.Floor(c))
			for k := 0; k < 4; k++ {
				j := i - 1 + k
				idx[4*o+k] = min(max(j, 0), n-1)
				wt[4*o+k] = float32(keys(c - float64(j)))
			}
		}
	}
	stride := [3]int{1, shape[0], shape[0] * shape[1]}[axis]
	dst := make([]float32, out[0]*out[1]*out[2])
	parallel.For(out[2], 0, func(lo, hi int) {
		var p [3]int
		for z := lo; z < hi; z++ {
			p[2] = z
			for y := 0; y < out[1]; y++ {
				p[1] = y
				d := dst[out[0]*(y+out[1]*z):][:out[0]]
				for x := range d {
					p[0] = x
					o := p[axis]
					q := p
					q[axis] = 0
					base := q[0] + shape[0]*(q[1]+shape[1]*q[2])
					var sum float32
					for k := 0; k < taps; k++ {
						sum += wt[o*taps+k] * src[base+idx[o*taps+k]*stride]
					}
					d[x] = sum
				}
			}
		}
	})
	return dst, out
}
