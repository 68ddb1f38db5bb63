package volume

import (
	"fmt"
	"math"

	"github.com/msdkit/msdkit/pkg/nifti"
)

// DType is the voxel type written to disk by Write.
type DType string

// Voxel types accepted by Write.
const (
	Uint8   DType = "uint8"
	Int16   DType = "int16"
	Int32   DType = "int32"
	Float32 DType = "float32"
)

// Read loads a NIfTI file (.nii or .nii.gz) as a Volume. Dimensions beyond the
// third (time, modality) become channels; 2D images get Z=1. Intensities are
// scaled by the file's scl_slope/scl_inter.
func Read(path string) (*Volume, error) {
	img, err := nifti.Read(path)
	if err != nil {
		return nil, err
	}
	return FromNIfTI(path, img)
}

// FromNIfTI converts a decoded NIfTI image (name is used in errors only).
func FromNIfTI(name string, img *nifti.Image) (*Volume, error) {
	shape := img.Shape()
	if len(shape) < 1 {
		return nil, fmt.Errorf("volume: %s: image has no dimensions", name)
	}
	sp := img.Spacing()
	v := &Volume{Channels: 1, Affine: img.Affine()}
	for i := 0; i < 3; i++ {
		v.Shape[i] = 1
		v.Spacing[i] = 1
		if i < len(shape) {
			v.Shape[i] = shape[i]
		}
		if i < len(sp) && sp[i] > 0 && !math.IsNaN(sp[i]) && !math.IsInf(sp[i], 0) {
			v.Spacing[i] = sp[i]
		}
	}
	for _, s := range shape[min(3, len(shape)):] {
		v.Channels *= s
	}
	data, err := img.Float32()
	if err != nil {
		return nil, fmt.Errorf("volume: %s: %w", name, err)
	}
	v.Data = data
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("volume: %s: %w", name, err)
	}
	return v, nil
}

// Write saves v as NIfTI (gzip-compressed when path ends in .gz) with voxels
// stored as dtype. Integer types round to nearest and fail when a value does not
// fit. Multi-channel volumes are written 4D (x, y, z, channel). The write is
// atomic (temporary file, then rename).
func Write(path string, v *Volume, dtype DType) error {
	if err := v.Validate(); err != nil {
		return fmt.Errorf("volume: writing %s: %w", path, err)
	}
	data, err := convert(v.Data, dtype)
	if err != nil {
		return fmt.Errorf("volume: writing %s: %w", path, err)
	}
	shape := []int{v.Shape[0], v.Shape[1], v.Shape[2]}
	// NIfTI's pixdim must equal the affine's column norms.
	spacing := []float64{v.Spacing[0], v.Spacing[1], v.Spacing[2]}
	for j := 0; j < 3; j++ {
		if n := math.Sqrt(v.Affine[0][j]*v.Affine[0][j] + v.Affine[1][j]*v.Affine[1][j] + v.Affine[2][j]*v.Affine[2][j]); n > 0 {
			spacing[j] = n
		}
	}
	if v.Channels > 1 {
		shape = append(shape, v.Channels)
		spacing = append(spacing, 1)
	}
	img, err := nifti.New(shape, spacing, v.Affine, data)
	if err != nil {
		return fmt.Errorf("volume: writing %s: %w", path, err)
	}
	return nifti.Write(path, img)
}

func convert(src []float32, dtype DType) (any, error) {
	checkInt := func(lo, hi float64) error {
		for i, x := range src {
			r := math.RoundToEven(float64(x))
			if !(r >= lo && r <= hi) {
				return fmt.Errorf("value %g at voxel %d does not fit %s", x, i, dtype)
			}
		}
		return nil
	}
	switch dtype {
	case Float32, "":
		return append([]float32(nil), src...), nil
	case Uint8:
		if err := checkInt(0, 255); err != nil {
			return nil, err
		}
		out := make([]uint8, len(src))
		for i, x := range src {
			out[i] = uint8(math.RoundToEven(float64(x)))
		}
		return out, nil
	case Int16:
		if err := checkInt(math.MinInt16, math.MaxInt16); err != nil {
			return nil, err
		}
		out := make([]int16, len(src))
		for i, x := range src {
			out[i] = int16(math.RoundToEven(float64(x)))
		}
		return out, nil
	case Int32:
		if err := checkInt(math.MinInt32, math.MaxInt32); err != nil {
			return nil, err
		}
		out := make([]int32, len(src))
		for i, x := range src {
			out[i] = int32(math.RoundToEven(float64(x)))
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown dtype %q (want uint8, int16, int32 or float32)", dtype)
}
