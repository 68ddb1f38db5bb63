// Package volume holds medical image volumes in memory: voxels, spacing and the
// voxel-to-world affine, with the geometric and intensity operations of the
// preprocessing pipeline.
//
// Memory layout follows NIfTI: x is the fastest axis, then y, then z, then the
// channel. Voxel (c, x, y, z) is at Data[c*X*Y*Z + x + X*(y + Y*z)], which is
// also the row-major layout of a tensor shaped [C, Z, Y, X], so volumes feed the
// networks without transposes.
//
// Geometry. The affine A maps voxel (x, y, z) to world millimetres in RAS+
// (NIfTI's convention). Every operation keeps each voxel's world position by
// updating A: reorientation (Reorient) permutes and flips axes exactly, with
// A' = A·M where M maps new voxel indices to old ones; cropping at start s
// uses A' = A·T(s); resampling from n to m voxels along an axis aligns voxel
// centres, so output voxel o sits at input coordinate (o+0.5)·n/m − 0.5 and
// A' = A·diag(n/m)·T(0.5·n/m − 0.5). Orientation codes ("RAS", "LPS", ...)
// name where each voxel axis points, from the affine's largest direction
// cosines.
//
// Interpolation. At is trilinear with zeros outside the grid (for augmentation);
// Resample is separable trilinear with edge values extended (exact for linear
// functions inside the grid); when one axis is more than AnisotropyThreshold
// times coarser than the finest it is resampled with nearest neighbour and the
// others linearly, as nnU-Net. Label maps are resampled per label: the one-hot
// indicator of every label is interpolated and each voxel takes the label with
// the largest value, which never invents label values and keeps thin
// structures better than nearest neighbour.
//
// Intensities. CT channels are clipped to the dataset's foreground 0.5 and
// 99.5 percentiles and z-scored with its foreground mean and std; other
// modalities are z-scored per image, over the (hole-filled) nonzero mask when
// the plan crops to it, with zeros outside.
//
// Prepare runs reorient, crop, normalise and resample in nnU-Net's order and
// returns a Record (JSON) from which ToOriginal maps label maps (and
// ToOriginalProbs probabilities) back to the source file's exact grid.
package volume

import "fmt"

// Volume is a multi-channel 3D image.
type Volume struct {
	// Data holds Channels*X*Y*Z values, x fastest (see the package doc).
	Data []float32
	// Shape is the number of voxels along x, y and z.
	Shape [3]int
	// Channels is the number of channels (modalities); at least 1.
	Channels int
	// Spacing is the voxel size along x, y and z in millimetres.
	Spacing [3]float64
	// Affine maps voxel indices (x, y, z, 1) to world coordinates in mm.
	Affine [4][4]float64
}

// New returns a zero volume of the given shape and channels with the given
// spacing and a diagonal affine.
func New(shape [3]int, channels int, spacing [3]float64) *Volume {
	v := &Volume{Shape: shape, Channels: channels, Spacing: spacing}
	v.Data = make([]float32, channels*shape[0]*shape[1]*shape[2])
	for i := 0; i < 3; i++ {
		v.Affine[i][i] = spacing[i]
	}
	v.Affine[3][3] = 1
	return v
}

// NumVoxels is X*Y*Z, the number of voxels in one channel.
func (v *Volume) NumVoxels() int { return v.Shape[0] * v.Shape[1] * v.Shape[2] }

// Index returns the offset of voxel (x, y, z) within one channel.
func (v *Volume) Index(x, y, z int) int { return x + v.Shape[0]*(y+v.Shape[1]*z) }

// Channel returns the slice of Data holding channel c (no copy).
func (v *Volume) Channel(c int) []float32 {
	n := v.NumVoxels()
	return v.Data[c*n : (c+1)*n]
}

// Validate checks that the fields are consistent.
func (v *Volume) Validate() error {
	if v.Channels < 1 {
		return fmt.Errorf("volume: %d channels, want at least 1", v.Channels)
	}
	for i, s := range v.Shape {
		if s < 1 {
			return fmt.Errorf("volume: shape[%d]=%d, want at least 1", i, s)
		}
	}
	if len(v.Data) != v.Channels*v.NumVoxels() {
		return fmt.Errorf("volume: %d values for %d channels of %v voxels", len(v.Data), v.Channels, v.Shape)
	}
	return nil
}
