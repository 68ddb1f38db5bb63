package volume

import (
	"fmt"
	"math"
)

// Steps configures Prepare, the geometric and intensity preprocessing of one
// case, in nnU-Net's order: reorient, crop to the nonzero region, normalise,
// resample.
type Steps struct {
	// Orientation is the target axis code (e.g. "RAS"); "" keeps the file's.
	Orientation string `json:"orientation"`
	// CropNonzero crops to the bounding box of the image's nonzero mask.
	CropNonzero bool `json:"crop_nonzero"`
	// Norm is the normalisation per channel; nil leaves intensities unchanged.
	Norm []Norm `json:"normalization"`
	// TargetSpacing in mm along the (reoriented) x, y, z axes; zero keeps the spacing.
	TargetSpacing [3]float64 `json:"target_spacing"`
	// AnisotropyThreshold for in-plane-only resampling; 0 means AnisotropyThreshold.
	AnisotropyThreshold float64 `json:"anisotropy_threshold,omitempty"`
	// ImageInterp is the image interpolation (Linear or Cubic; labels are
	// always per-label linear, nearest along a separate axis).
	ImageInterp Interp `json:"image_interpolation"`
}

// Record is everything Prepare did to a case, serialisable as JSON, so that
// outputs in the preprocessed grid map back to the original file's grid
// (ToOriginal).
type Record struct {
	OriginalShape   [3]int        `json:"original_shape"`
	OriginalSpacing [3]float64    `json:"original_spacing"`
	OriginalAffine  [4][4]float64 `json:"original_affine"`
	Reorientation   Reorientation `json:"reorientation"`
	// ReorientedShape is the shape after reorientation, the grid Crop refers to.
	ReorientedShape [3]int `json:"reoriented_shape"`
	Crop            Box    `json:"crop"`
	// CroppedSpacing is the spacing before resampling.
	CroppedSpacing   [3]float64 `json:"cropped_spacing"`
	ResampledShape   [3]int     `json:"resampled_shape"`
	ResampledSpacing [3]float64 `json:"resampled_spacing"`
	// SeparateAxis is the axis resampled with nearest neighbour (-1: none).
	SeparateAxis int `json:"separate_axis"`
	// Modes are the per-axis interpolation of labels (and of ToOriginalProbs).
	Modes [3]Interp `json:"modes"`
	// NormMean and NormStd are the statistics used per channel.
	NormMean []float64 `json:"norm_mean,omitempty"`
	NormStd  []float64 `json:"norm_std,omitempty"`
}

// SameGeometry reports whether two volumes share shape and (within tol mm)
// affine.
func SameGeometry(a, b *Volume, tol float64) error {
	if a.Shape != b.Shape {
		return fmt.Errorf("shapes %v and %v differ", a.Shape, b.Shape)
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			if math.Abs(a.Affine[i][j]-b.Affine[i][j]) > tol {
				return fmt.Errorf("affines differ at [%d][%d]: %g vs %g", i, j, a.Affine[i][j], b.Affine[i][j])
			}
		}
	}
	return nil
}

// GeometryTolerance is the largest affine difference (mm) accepted between an
// image and its label map.
const GeometryTolerance = 1e-2

// Prepare runs the steps on an image and its label map (lbl may be nil) and
// returns the processed pair with the record of what was done.
func Prepare(img, lbl *Volume, s Steps) (*Volume, *Volume, *Record, error) {
	if err := img.Validate(); err != nil {
		return nil, nil, nil, err
	}
	if lbl != nil {
		if err := lbl.Validate(); err != nil {
			return nil, nil, nil, fmt.Errorf("label: %w", err)
		}
		if lbl.Channels != 1 {
			return nil, nil, nil, fmt.Errorf("volume: label map has %d channels, want 1", lbl.Channels)
		}
		if err := SameGeometry(img, lbl, GeometryTolerance); err != nil {
			return nil, nil, nil, fmt.Errorf("volume: image and label geometry differ: %w", err)
		}
	}
	if s.Norm != nil && len(s.Norm) != img.Channels {
		return nil, nil, nil, fmt.Errorf("volume: %d normalisations for %d channels", len(s.Norm), img.Channels)
	}
	rec := &Record{OriginalShape: img.Shape, OriginalSpacing: img.Spacing, OriginalAffine: img.Affine, SeparateAxis: -1}
	rec.Reorientation = Reorientation{Perm: [3]int{0, 1, 2}, SourceShape: img.Shape}
	if s.Orientation != "" {
		var err error
		img, rec.Reorientation, err = img.Reorient(s.Orientation)
		if err != nil {
			return nil, nil, nil, err
		}
		if lbl != nil {
			lbl = rec.Reorientation.Apply(lbl)
		}
	} else if o, err := img.Orientation(); err == nil {
		rec.Reorientation.From, rec.Reorientation.To = o.Code(), o.Code()
	}
	rec.ReorientedShape = img.Shape
	rec.Crop = Full(img.Shape)
	var mask []bool
	needMask := s.CropNonzero
	for _, n := range s.Norm {
		needMask = needMask || n.UseMask
	}
	if needMask {
		mask = img.NonzeroMask()
	}
	if s.CropNonzero {
		rec.Crop = BoundingBox(mask, img.Shape)
		if rec.Crop != Full(img.Shape) {
			var err error
			if img, err = img.Crop(rec.Crop); err != nil {
				return nil, nil, nil, err
			}
			if lbl != nil {
				if lbl, err = lbl.Crop(rec.Crop); err != nil {
					return nil, nil, nil, err
				}
			}
			mask = cropMask(mask, rec.ReorientedShape, rec.Crop)
		}
	}
	rec.CroppedSpacing = img.Spacing
	if s.Norm != nil {
		img = img.Clone()
		for c, n := range s.Norm {
			m, sd, err := img.Normalize(c, n, mask)
			if err != nil {
				return nil, nil, nil, err
			}
			rec.NormMean = append(rec.NormMean, m)
			rec.NormStd = append(rec.NormStd, sd)
		}
	}
	if s.TargetSpacing != [3]float64{} {
		for _, t := range s.TargetSpacing {
			if !(t > 0) {
				return nil, nil, nil, fmt.Errorf("volume: target spacing %v must be positive", s.TargetSpacing)
			}
		}
		th := s.AnisotropyThreshold
		if th == 0 {
			th = AnisotropyThreshold
		}
		rec.SeparateAxis = SeparateAxis(img.Spacing, s.TargetSpacing, th)
		rec.Modes = AxisModes(rec.SeparateAxis, Linear)
		shape := ShapeForSpacing(img.Shape, img.Spacing, s.TargetSpacing)
		img = img.Resample(shape, AxisModes(rec.SeparateAxis, s.ImageInterp))
		if lbl != nil {
			var err error
			if lbl, err = lbl.ResampleLabels(shape, rec.Modes); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	rec.ResampledShape, rec.ResampledSpacing = img.Shape, img.Spacing
	return img, lbl, rec, nil
}

func cropMask(mask []bool, shape [3]int, b Box) []bool {
	cs := b.Shape()
	out := make([]bool, 0, cs[0]*cs[1]*cs[2])
	for z := b.Start[2]; z < b.End[2]; z++ {
		for y := b.Start[1]; y < b.End[1]; y++ {
			i := shape[0] * (y + shape[1]*z)
			out = append(out, mask[i+b.Start[0]:i+b.End[0]]...)
		}
	}
	return out
}

// ToOriginal maps a label map in the preprocessed grid back to the original
// file's grid: per-label linear resampling to the cropped shape, background
// outside the crop box, reorientation undone. Spacing and affine are the
// original ones.
func (r *Record) ToOriginal(lbl *Volume) (*Volume, error) {
	return r.invert(lbl, true)
}

// ToOriginalProbs maps per-class probabilities (one channel per class, class 0
// background) back to the original grid with linear interpolation; outside the
// crop box the background has probability 1.
func (r *Record) ToOriginalProbs(p *Volume) (*Volume, error) {
	return r.invert(p, false)
}

func (r *Record) invert(v *Volume, labels bool) (*Volume, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if v.Shape != r.ResampledShape {
		return nil, fmt.Errorf("volume: to original: shape %v, want the preprocessed shape %v", v.Shape, r.ResampledShape)
	}
	cs := r.Crop.Shape()
	var err error
	if labels {
		if v, err = v.ResampleLabels(cs, r.Modes); err != nil {
			return nil, err
		}
	} else {
		v = v.Resample(cs, r.Modes)
	}
	var fill []float32
	if !labels {
		fill = make([]float32, v.Channels)
		fill[0] = 1
	}
	if v, err = v.Uncrop(r.Crop, r.ReorientedShape, fill); err != nil {
		return nil, err
	}
	if v, err = r.Reorientation.Undo(v); err != nil {
		return nil, err
	}
	v.Spacing, v.Affine = r.OriginalSpacing, r.OriginalAffine
	return v, nil
}
