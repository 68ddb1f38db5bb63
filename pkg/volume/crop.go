package volume

import (
	"fmt"
	"slices"

	"github.com/msdkit/msdkit/pkg/parallel"
)

// Box is a voxel bounding box: Start inclusive, End exclusive, per axis x, y, z.
type Box struct {
	Start [3]int `json:"start"`
	End   [3]int `json:"end"`
}

// Shape is End-Start.
func (b Box) Shape() [3]int {
	return [3]int{b.End[0] - b.Start[0], b.End[1] - b.Start[1], b.End[2] - b.Start[2]}
}

// Full returns the box covering a whole grid of the given shape.
func Full(shape [3]int) Box { return Box{End: shape} }

// NonzeroMask marks voxels where any channel is nonzero, with enclosed holes
// filled (nnU-Net's create_nonzero_mask): zero voxels not connected (6-neighbour)
// to the border are set too.
func (v *Volume) NonzeroMask() []bool {
	n := v.NumVoxels()
	mask := make([]bool, n)
	for c := 0; c < v.Channels; c++ {
		for i, x := range v.Channel(c) {
			if x != 0 {
				mask[i] = true
			}
		}
	}
	fillHoles(mask, v.Shape)
	return mask
}

// fillHoles sets the background components of mask that do not touch the border.
func fillHoles(mask []bool, shape [3]int) {
	X, Y, Z := shape[0], shape[1], shape[2]
	var border []int
	for z := 0; z < Z; z++ {
		for y := 0; y < Y; y++ {
			for x := 0; x < X; x++ {
				if x == 0 || y == 0 || z == 0 || x == X-1 || y == Y-1 || z == Z-1 {
					border = append(border, x+X*(y+Y*z))
				}
			}
		}
	}
	outside := make([]bool, len(mask))
	floodFill(func(i int) bool { return !mask[i] }, shape, outside, border...)
	for i := range mask {
		if !outside[i] {
			mask[i] = true
		}
	}
}

// floodFill sets in seen every voxel of the region in (6-connected, on a grid of the given
// shape) reachable from the seeds without passing through voxels already seen, and returns how
// many it set. Seeds outside the region are skipped.
func floodFill(in func(i int) bool, shape [3]int, seen []bool, seeds ...int) int {
	X, Y, Z := shape[0], shape[1], shape[2]
	var stack []int
	n := 0
	push := func(i int) {
		if !seen[i] && in(i) {
			seen[i] = true
			n++
			stack = append(stack, i)
		}
	}
	for _, s := range seeds {
		push(s)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y, z := i%X, (i/X)%Y, i/(X*Y)
		if x > 0 {
			push(i - 1)
		}
		if x < X-1 {
			push(i + 1)
		}
		if y > 0 {
			push(i - X)
		}
		if y < Y-1 {
			push(i + X)
		}
		if z > 0 {
			push(i - X*Y)
		}
		if z < Z-1 {
			push(i + X*Y)
		}
	}
	return n
}

// LargestComponent returns the largest 6-connected component of mask, a grid of the given shape
// (all false when mask is empty; ties go to the component met first in memory order).
func LargestComponent(mask []bool, shape [3]int) []bool {
	in := func(i int) bool { return mask[i] }
	seen := make([]bool, len(mask))
	best, bestSize := -1, 0
	for i, m := range mask {
		if m && !seen[i] {
			if n := floodFill(in, shape, seen, i); n > bestSize {
				best, bestSize = i, n
			}
		}
	}
	out := make([]bool, len(mask))
	if best >= 0 {
		floodFill(in, shape, out, best)
	}
	return out
}

// BoundingBox returns the smallest box holding every set voxel of mask (a
// grid of the given shape), or the full grid when none is set.
func BoundingBox(mask []bool, shape [3]int) Box {
	b := Box{Start: shape}
	any := false
	i := 0
	for z := 0; z < shape[2]; z++ {
		for y := 0; y < shape[1]; y++ {
			for x := 0; x < shape[0]; x++ {
				if mask[i] {
					any = true
					p := [3]int{x, y, z}
					for a := 0; a < 3; a++ {
						b.Start[a] = min(b.Start[a], p[a])
						b.End[a] = max(b.End[a], p[a]+1)
					}
				}
				i++
			}
		}
	}
	if !any {
		return Full(shape)
	}
	return b
}

// Crop returns the part of v inside b, with the affine translated so voxels
// keep their world positions.
func (v *Volume) Crop(b Box) (*Volume, error) {
	for a := 0; a < 3; a++ {
		if b.Start[a] < 0 || b.End[a] > v.Shape[a] || b.Start[a] >= b.End[a] {
			return nil, fmt.Errorf("volume: crop box %v..%v outside shape %v", b.Start, b.End, v.Shape)
		}
	}
	return v.window(b.Start, b.Shape(), func([]float32, int, int, int) {}), nil
}

// window copies the region of shape starting at start (which may extend past v)
// into a new volume; fill fills the rows, given a destination row and the
// destination coordinates it starts at, before v's data is copied over them.
func (v *Volume) window(start, shape [3]int, fill func(row []float32, x0, y, z int)) *Volume {
	out := &Volume{Shape: shape, Channels: v.Channels, Spacing: v.Spacing}
	var t [4][4]float64
	for i := 0; i < 4; i++ {
		t[i][i] = 1
	}
	for i := 0; i < 3; i++ {
		t[i][3] = float64(start[i])
	}
	out.Affine = matMul(v.Affine, t)
	m := shape[0] * shape[1] * shape[2]
	out.Data = make([]float32, v.Channels*m)
	n := v.NumVoxels()
	X, Y, Z := v.Shape[0], v.Shape[1], v.Shape[2]
	xlo, xhi := max(0, -start[0]), min(shape[0], X-start[0])
	for c := 0; c < v.Channels; c++ {
		src, dst := v.Data[c*n:(c+1)*n], out.Data[c*m:(c+1)*m]
		parallel.For(shape[2], 0, func(lo, hi int) {
			for z := lo; z < hi; z++ {
				for y := 0; y < shape[1]; y++ {
					row := dst[shape[0]*(y+shape[1]*z):][:shape[0]]
					fill(row, 0, y, z)
					sy, sz := y+start[1], z+start[2]
					if sy < 0 || sy >= Y || sz < 0 || sz >= Z || xlo >= xhi {
						continue
					}
					base := X*(sy+Y*sz) + start[0]
					copy(row[xlo:xhi], src[base+xlo:base+xhi])
				}
			}
		})
	}
	return out
}

// PadMode selects how Pad fills new voxels.
type PadMode int

// Pad modes.
const (
	PadConstant PadMode = iota // a constant value
	PadEdge                    // the nearest edge voxel
)

// Padding records voxels added before and after each axis.
type Padding struct {
	Before [3]int `json:"before"`
	After  [3]int `json:"after"`
}

// Pad grows v to at least minShape per axis, splitting the difference evenly
// (the extra voxel after, as nnU-Net) and filling with value (PadConstant) or
// the edge voxels (PadEdge). Unpad undoes it.
func (v *Volume) Pad(minShape [3]int, mode PadMode, value float32) (*Volume, Padding) {
	var p Padding
	var shape, start [3]int
	for a := 0; a < 3; a++ {
		d := max(0, minShape[a]-v.Shape[a])
		p.Before[a], p.After[a] = d/2, d-d/2
		shape[a] = v.Shape[a] + d
		start[a] = -p.Before[a]
	}
	X, Y, Z := v.Shape[0], v.Shape[1], v.Shape[2]
	var fill func(row []float32, x0, y, z int)
	if mode == PadEdge {
		// The channel is not known inside fill, so edge padding runs per channel below.
		fill = func([]float32, int, int, int) {}
	} else {
		fill = func(row []float32, _, _, _ int) {
			for i := range row {
				row[i] = value
			}
		}
	}
	out := v.window(start, shape, fill)
	if mode == PadEdge && p != (Padding{}) {
		n, m := v.NumVoxels(), shape[0]*shape[1]*shape[2]
		for c := 0; c < v.Channels; c++ {
			src, dst := v.Data[c*n:(c+1)*n], out.Data[c*m:(c+1)*m]
			parallel.For(shape[2], 0, func(lo, hi int) {
				for z := lo; z < hi; z++ {
					sz := min(max(z+start[2], 0), Z-1)
					for y := 0; y < shape[1]; y++ {
						sy := min(max(y+start[1], 0), Y-1)
						s := src[X*(sy+Y*sz):]
						d := dst[shape[0]*(y+shape[1]*z):]
						for x := 0; x < shape[0]; x++ {
							d[x] = s[min(max(x+start[0], 0), X-1)]
						}
					}
				}
			})
		}
	}
	return out, p
}

// Unpad removes padding p added by Pad.
func (v *Volume) Unpad(p Padding) (*Volume, error) {
	var b Box
	for a := 0; a < 3; a++ {
		b.Start[a] = p.Before[a]
		b.End[a] = v.Shape[a] - p.After[a]
	}
	return v.Crop(b)
}

// Uncrop places v (the content of box b) into a grid of the given shape filled
// with fill per channel (fill may be nil for zeros), the inverse of Crop.
func (v *Volume) Uncrop(b Box, shape [3]int, fill []float32) (*Volume, error) {
	if b.Shape() != v.Shape {
		return nil, fmt.Errorf("volume: uncrop: volume shape %v does not match box %v..%v", v.Shape, b.Start, b.End)
	}
	for a := 0; a < 3; a++ {
		if b.Start[a] < 0 || b.End[a] > shape[a] {
			return nil, fmt.Errorf("volume: uncrop: box %v..%v outside shape %v", b.Start, b.End, shape)
		}
	}
	var start [3]int
	for a := 0; a < 3; a++ {
		start[a] = -b.Start[a]
	}
	out := v.window(start, shape, func([]float32, int, int, int) {})
	if fill != nil {
		// Fill outside the box, channel by channel.
		m := out.NumVoxels()
		for c := 0; c < v.Channels && c < len(fill); c++ {
			if fill[c] == 0 {
				continue
			}
			d := out.Data[c*m : (c+1)*m]
			i := 0
			for z := 0; z < shape[2]; z++ {
				for y := 0; y < shape[1]; y++ {
					for x := 0; x < shape[0]; x++ {
						if x < b.Start[0] || x >= b.End[0] || y < b.Start[1] || y >= b.End[1] || z < b.Start[2] || z >= b.End[2] {
							d[i] = fill[c]
						}
						i++
					}
				}
			}
		}
	}
	return out, nil
}

// ForegroundBox is the bounding box of the voxels where channel 0 is above 0
// (the labelled foreground), grown by margin voxels per side and clipped to
// the grid; the full grid when there is no foreground.
func (v *Volume) ForegroundBox(margin int) Box {
	mask := v.Mask()
	if !slices.Contains(mask, true) {
		return Full(v.Shape)
	}
	return BoundingBox(mask, v.Shape).Grow([3]int{margin, margin, margin}, v.Shape)
}

// Grow widens b by margin[a] voxels on both sides of each axis a, clipped to
// a grid of the given shape.
func (b Box) Grow(margin [3]int, shape [3]int) Box {
	for a := range 3 {
		b.Start[a] = max(0, b.Start[a]-margin[a])
		b.End[a] = min(shape[a], b.End[a]+margin[a])
	}
	return b
}
