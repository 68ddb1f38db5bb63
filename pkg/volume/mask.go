package volume

import (
	"fmt"
	"slices"
)

// Mask marks the voxels of a label map (channel 0) whose label is one of
// labels, or, with no labels given, every voxel with a label > 0 (the
// foreground). Unlike NonzeroMask it fills no holes.
func (v *Volume) Mask(labels ...int) []bool {
	m := make([]bool, v.NumVoxels())
	for i, l := range v.Channel(0) {
		if len(labels) == 0 {
			m[i] = l > 0
		} else {
			m[i] = slices.Contains(labels, int(l)) && float32(int(l)) == l
		}
	}
	return m
}

// FromMask returns a one-channel label map with like's geometry (shape,
// spacing, affine) holding label where m is true and 0 elsewhere: the inverse
// of Mask. It fails when m does not have one entry per voxel of like.
func FromMask(like *Volume, m []bool, label float32) (*Volume, error) {
	if len(m) != like.NumVoxels() {
		return nil, fmt.Errorf("volume: mask has %d voxels, volume %v has %d", len(m), like.Shape, like.NumVoxels())
	}
	out := &Volume{Data: make([]float32, len(m)), Shape: like.Shape, Channels: 1, Spacing: like.Spacing, Affine: like.Affine}
	for i, in := range m {
		if in {
			out.Data[i] = label
		}
	}
	return out, nil
}

// Shift moves the content of v (all channels) by k voxels along axis (0 x,
// 1 y, 2 z; k may be negative) on the same grid: voxel i takes the value of
// voxel i-k, content moved out of the grid is lost and the voxels uncovered
// are 0. The affine is kept: the grid stays, the content moves. It is a Crop
// of the part that stays followed by an Uncrop at its new place.
func (v *Volume) Shift(axis, k int) (*Volume, error) {
	if axis < 0 || axis > 2 {
		return nil, fmt.Errorf("volume: shift axis %d, want 0 (x), 1 (y) or 2 (z)", axis)
	}
	if k == 0 {
		return v.Clone(), nil
	}
	if k >= v.Shape[axis] || -k >= v.Shape[axis] {
		out := v.Clone()
		clear(out.Data)
		return out, nil
	}
	src, dst := Full(v.Shape), Full(v.Shape)
	if k > 0 {
		src.End[axis] -= k
		dst.Start[axis] += k
	} else {
		src.Start[axis] -= k
		dst.End[axis] += k
	}
	c, err := v.Crop(src)
	if err != nil {
		return nil, err
	}
	out, err := c.Uncrop(dst, v.Shape, nil)
	if err != nil {
		return nil, err
	}
	out.Affine = v.Affine
	return out, nil
}
