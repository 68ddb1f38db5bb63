package volume

// World maps the voxel position (x, y, z) (fractional positions allowed) to
// world coordinates in mm with the affine: (wx, wy, wz, 1) = Affine · (x, y, z, 1).
// NIfTI world coordinates are RAS+.
func (v *Volume) World(x, y, z float64) [3]float64 {
	var w [3]float64
	for r := range 3 {
		a := v.Affine[r]
		w[r] = a[0]*x + a[1]*y + a[2]*z + a[3]
	}
	return w
}

// Extent is the size of the grid in mm along x, y and z: Shape times Spacing.
func (v *Volume) Extent() [3]float64 {
	return [3]float64{float64(v.Shape[0]) * v.Spacing[0], float64(v.Shape[1]) * v.Spacing[1], float64(v.Shape[2]) * v.Spacing[2]}
}

// VoxelVolume is the volume of one voxel in mm³ (the product of the spacing).
func (v *Volume) VoxelVolume() float64 { return v.Spacing[0] * v.Spacing[1] * v.Spacing[2] }
