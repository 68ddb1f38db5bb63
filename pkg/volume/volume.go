// Package volume holds medical image volumes in memory: voxels, spacing and the
// voxel-to-world affine, with the geometric and intensity operations of the
// preprocessing pipeline.
//
// Memory layout follows NIfTI: x is the fastest axis, then y, then z, then the
// channel. Voxel (c, x, y, z) is at Data[c*X*Y*Z + x + X*(y + Y*z)], which is
// also the row-major layout of a tensor shaped [C, Z, Y, X], so volumes feed the
// networks without transposes.
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
