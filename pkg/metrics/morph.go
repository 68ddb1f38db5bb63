package metrics

import (
	"fmt"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Dilate returns the mask grown by a ball of radius r mm: every voxel whose
// centre lies within r of a voxel of mask (distances with the given spacing,
// exact Euclidean, from SquaredEDT). With spacing {1, 1, 1}, r counts voxels.
// An empty mask stays empty.
func Dilate(mask []bool, shape [3]int, spacing [3]float64, r float64) ([]bool, error) {
	if err := checkMask(mask, shape); err != nil {
		return nil, err
	}
	d := SquaredEDT(mask, shape, spacing)
	out := make([]bool, len(d))
	for i, v := range d {
		out[i] = v <= r*r
	}
	return out, nil
}

// Erode returns the mask shrunk by a ball of radius r mm: the voxels of mask
// farther than r from every voxel outside it, i.e. the complement of the
// dilated complement. Only voxels of the grid count as outside: a mask that
// fills the whole grid is left as it is.
func Erode(mask []bool, shape [3]int, spacing [3]float64, r float64) ([]bool, error) {
	if err := checkMask(mask, shape); err != nil {
		return nil, err
	}
	outside := make([]bool, len(mask))
	for i, m := range mask {
		outside[i] = !m
	}
	d := SquaredEDT(outside, shape, spacing)
	for i, m := range mask {
		outside[i] = m && d[i] > r*r
	}
	return outside, nil
}

// DilateVolume dilates the foreground (label > 0) of label map v by r, in mm
// with v's spacing or, when inVoxels, in voxels (spacing 1), and returns it as
// a label map of 1s with v's geometry.
func DilateVolume(v *volume.Volume, r float64, inVoxels bool) (*volume.Volume, error) {
	return morphVolume(Dilate, v, r, inVoxels)
}

// ErodeVolume is DilateVolume's counterpart with Erode.
func ErodeVolume(v *volume.Volume, r float64, inVoxels bool) (*volume.Volume, error) {
	return morphVolume(Erode, v, r, inVoxels)
}

func morphVolume(op func([]bool, [3]int, [3]float64, float64) ([]bool, error), v *volume.Volume, r float64, inVoxels bool) (*volume.Volume, error) {
	spacing := v.Spacing
	if inVoxels {
		spacing = [3]float64{1, 1, 1}
	}
	m, err := op(v.Mask(), v.Shape, spacing, r)
	if err != nil {
		return nil, err
	}
	return volume.FromMask(v, m, 1)
}

// checkMask fails when mask does not have one entry per voxel of shape.
func checkMask(mask []bool, shape [3]int) error {
	if n := shape[0] * shape[1] * shape[2]; len(mask) != n || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0 {
		return fmt.Errorf("metrics: mask has %d voxels, shape %v has %d", len(mask), shape, n)
	}
	return nil
}
