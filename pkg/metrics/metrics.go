// Package metrics scores segmentations as the Medical Segmentation
// Decathlon and nnU-Net evaluations do: per-label Dice and the 95th
// percentile Hausdorff distance (HD95) in millimetres, per case and as means
// over cases.
//
// Dice of label l: 2|R∩P| / (|R|+|P|), R and P the reference and predicted
// voxel sets. When both are empty it is undefined: NaN, as nnU-Net reports
// it, and left out of the means. When exactly one is empty it is 0.
//
// HD95 follows MONAI's compute_hausdorff_distance(percentile=95,
// directed=False). The surface of a mask is its foreground voxels with a
// background 6-neighbour (outside the grid counts as background; axes of
// size 1 are ignored, so 2D images get 4-neighbour surfaces). For each
// surface voxel of P the distance (mm, voxel centres, anisotropic spacing)
// to the nearest surface voxel of R is taken from an exact Euclidean
// distance transform, and likewise from R to P. HD95 is the larger of the
// two directed 95th percentiles, each computed as numpy.percentile's
// default (linear interpolation between order statistics). The MedPy
// convention (hd95: the 95th percentile of both directions' distances
// pooled) is available as MedPy. When both masks are empty HD95 is NaN;
// when exactly one is empty it is +Inf (MONAI returns inf or nan depending
// on which one, MedPy raises). Means skip non-finite values and report how
// many cases they averaged.
package metrics

import (
	"fmt"
	"math"
	"sort"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Integer is the element type of label maps.
type Integer interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64 | ~int8 | ~int16 | ~int32 | ~int64 | ~int | ~uint
}

// Dice returns 2|R∩P|/(|R|+|P|): NaN when both masks are empty.
func Dice(ref, pred []bool) float64 {
	var inter, nr, np int
	for i, r := range ref {
		p := pred[i]
		if r {
			nr++
		}
		if p {
			np++
		}
		if r && p {
			inter++
		}
	}
	if nr+np == 0 {
		return math.NaN()
	}
	return 2 * float64(inter) / float64(nr+np)
}

// Convention selects how the two directions of the surface distances are
// combined into a percentile Hausdorff distance.
type Convention int

const (
	// MONAI takes the larger of the two directed percentiles.
	MONAI Convention = iota
	// MedPy takes the percentile of both directions' distances pooled.
	MedPy
)

// SurfaceDistances returns the distances in mm from each surface voxel of
// from to the nearest surface voxel of to, in voxel order. It returns nil
// when from has no voxel, and +Inf values when to has none. The distance
// transform runs on the bounding box of both surfaces, which gives the same
// distances as the full grid.
func SurfaceDistances(from, to []bool, shape [3]int, spacing [3]float64) []float64 {
	return directed(Surface(from, shape), Surface(to, shape), shape, spacing)
}

func directed(sf, st []bool, shape [3]int, spacing [3]float64) []float64 {
	lo, hi, ok := bounds(sf, shape)
	if !ok {
		return nil
	}
	if tlo, thi, ok := bounds(st, shape); ok {
		for a := 0; a < 3; a++ {
			lo[a], hi[a] = min(lo[a], tlo[a]), max(hi[a], thi[a])
		}
	}
	var sub [3]int
	for a := range sub {
		sub[a] = hi[a] - lo[a] + 1
	}
	feat := make([]bool, sub[0]*sub[1]*sub[2])
	for z := 0; z < sub[2]; z++ {
		for y := 0; y < sub[1]; y++ {
			for x := 0; x < sub[0]; x++ {
				feat[x+sub[0]*(y+sub[1]*z)] = st[lo[0]+x+shape[0]*(lo[1]+y+shape[1]*(lo[2]+z))]
			}
		}
	}
	d := SquaredEDT(feat, sub, spacing)
	var out []float64
	for z := 0; z < sub[2]; z++ {
		for y := 0; y < sub[1]; y++ {
			for x := 0; x < sub[0]; x++ {
				if sf[lo[0]+x+shape[0]*(lo[1]+y+shape[1]*(lo[2]+z))] {
					out = append(out, math.Sqrt(d[x+sub[0]*(y+sub[1]*z)]))
				}
			}
		}
	}
	return out
}

// bounds returns the inclusive bounding box of the true voxels.
func bounds(m []bool, shape [3]int) (lo, hi [3]int, ok bool) {
	lo = shape
	hi = [3]int{-1, -1, -1}
	for z := 0; z < shape[2]; z++ {
		for y := 0; y < shape[1]; y++ {
			row := shape[0] * (y + shape[1]*z)
			for x := 0; x < shape[0]; x++ {
				if m[row+x] {
					c := [3]int{x, y, z}
					for a := 0; a < 3; a++ {
						lo[a], hi[a] = min(lo[a], c[a]), max(hi[a], c[a])
					}
				}
			}
		}
	}
	return lo, hi, hi[0] >= 0
}

// Percentile returns the p-th percentile (0..100) of x as numpy.percentile
// does by default (linear interpolation); NaN for an empty x. x is sorted
// in place.
func Percentile(x []float64, p float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	sort.Float64s(x)
	r := p / 100 * float64(len(x)-1)
	i := int(math.Floor(r))
	if i >= len(x)-1 {
		return x[len(x)-1]
	}
	if math.IsInf(x[i], 1) {
		return x[i]
	}
	return x[i] + (r-float64(i))*(x[i+1]-x[i])
}

// Hausdorff returns the p-th percentile Hausdorff distance in mm between
// the masks (p = 95 gives HD95, p = 100 the Hausdorff distance) in the
// given convention: NaN when both are empty, +Inf when one is.
func Hausdorff(ref, pred []bool, shape [3]int, spacing [3]float64, p float64, conv Convention) float64 {
	sr, sp := Surface(ref, shape), Surface(pred, shape)
	pr := directed(sp, sr, shape, spacing) // prediction surface -> reference
	rp := directed(sr, sp, shape, spacing)
	switch {
	case pr == nil && rp == nil:
		return math.NaN()
	case pr == nil || rp == nil:
		return math.Inf(1)
	}
	if conv == MedPy {
		return Percentile(append(pr, rp...), p)
	}
	return math.Max(Percentile(pr, p), Percentile(rp, p))
}

// HD95 is Hausdorff at the 95th percentile in MONAI's convention.
func HD95(ref, pred []bool, shape [3]int, spacing [3]float64) float64 {
	return Hausdorff(ref, pred, shape, spacing, 95, MONAI)
}

// LabelScore holds the scores of one label of one case.
type LabelScore struct {
	Label int    `json:"label"`
	Name  string `json:"name,omitempty"`
	// Dice is NaN when the label is absent from both reference and prediction.
	Dice Float `json:"dice"`
	// HD95 in mm: NaN when both are empty, +Inf when exactly one is.
	HD95       Float `json:"hd95"`
	RefVoxels  int   `json:"ref_voxels"`
	PredVoxels int   `json:"pred_voxels"`
}

// CaseResult holds the scores of one case.
type CaseResult struct {
	ID     string       `json:"id"`
	Labels []LabelScore `json:"labels"`
}

// Options configures Evaluate.
type Options struct {
	// Labels to score; default: every label > 0 present in either map.
	// List all the task's labels so that absent ones are reported (NaN).
	Labels []int
	// Names of the labels (as dataset.json's "labels").
	Names map[int]string
	// Convention of the percentile Hausdorff distance (default MONAI).
	Convention Convention
	// Percentile of the Hausdorff distance, default 95.
	Percentile float64
}

// Evaluate scores the label maps ref and pred (x fastest, given shape and
// spacing in mm) per label.
func Evaluate[T Integer](id string, ref, pred []T, shape [3]int, spacing [3]float64, opts Options) (CaseResult, error) {
	n := shape[0] * shape[1] * shape[2]
	if shape[0] < 1 || shape[1] < 1 || shape[2] < 1 {
		return CaseResult{}, fmt.Errorf("metrics: case %s: shape %v", id, shape)
	}
	if len(ref) != n || len(pred) != n {
		return CaseResult{}, fmt.Errorf("metrics: case %s: %d reference and %d predicted voxels for shape %v", id, len(ref), len(pred), shape)
	}
	for a, s := range spacing {
		if !(s > 0) || math.IsInf(s, 0) {
			return CaseResult{}, fmt.Errorf("metrics: case %s: spacing[%d] = %g", id, a, s)
		}
	}
	p := opts.Percentile
	if p == 0 {
		p = 95
	}
	if p < 0 || p > 100 {
		return CaseResult{}, fmt.Errorf("metrics: percentile %g outside [0, 100]", p)
	}
	labels := opts.Labels
	if labels == nil {
		set := map[int]bool{}
		for i := range ref {
			set[int(ref[i])] = true
			set[int(pred[i])] = true
		}
		for l := range set {
			if l > 0 {
				labels = append(labels, l)
			}
		}
		sort.Ints(labels)
	}
	res := CaseResult{ID: id}
	rm, pm := make([]bool, n), make([]bool, n)
	for _, l := range labels {
		var nr, np int
		for i := range ref {
			rm[i], pm[i] = int(ref[i]) == l, int(pred[i]) == l
			if rm[i] {
				nr++
			}
			if pm[i] {
				np++
			}
		}
		res.Labels = append(res.Labels, LabelScore{
			Label: l, Name: opts.Names[l],
			Dice:      Float(Dice(rm, pm)),
			HD95:      Float(Hausdorff(rm, pm, shape, spacing, p, opts.Convention)),
			RefVoxels: nr, PredVoxels: np,
		})
	}
	return res, nil
}

// EvaluateVolumes scores two one-channel label volumes of the same
// geometry (shape, spacing within 1e-3 relative, affine within
// volume.GeometryTolerance).
func EvaluateVolumes(id string, ref, pred *volume.Volume, opts Options) (CaseResult, error) {
	if ref == nil || pred == nil {
		return CaseResult{}, fmt.Errorf("metrics: case %s: nil volume", id)
	}
	if ref.Shape != pred.Shape {
		return CaseResult{}, fmt.Errorf("metrics: case %s: reference shape %v, prediction shape %v", id, ref.Shape, pred.Shape)
	}
	for a := 0; a < 3; a++ {
		if math.Abs(ref.Spacing[a]-pred.Spacing[a]) > 1e-3*ref.Spacing[a] {
			return CaseResult{}, fmt.Errorf("metrics: case %s: reference spacing %v, prediction spacing %v", id, ref.Spacing, pred.Spacing)
		}
	}
	if err := volume.SameGeometry(ref, pred, volume.GeometryTolerance); err != nil {
		return CaseResult{}, fmt.Errorf("metrics: case %s: reference and prediction: %w", id, err)
	}
	r, err := toLabels(ref)
	if err != nil {
		return CaseResult{}, fmt.Errorf("metrics: case %s: reference: %w", id, err)
	}
	p, err := toLabels(pred)
	if err != nil {
		return CaseResult{}, fmt.Errorf("metrics: case %s: prediction: %w", id, err)
	}
	return Evaluate(id, r, p, ref.Shape, ref.Spacing, opts)
}

// toLabels converts a float label volume to integers, rejecting values
// that are not non-negative integers (within 1e-3).
func toLabels(v *volume.Volume) ([]int32, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if v.Channels != 1 {
		return nil, fmt.Errorf("%d channels, want 1", v.Channels)
	}
	out := make([]int32, len(v.Data))
	for i, f := range v.Data {
		r := math.Round(float64(f))
		if math.Abs(float64(f)-r) > 1e-3 || r < 0 || r > math.MaxInt32 {
			return nil, fmt.Errorf("voxel %d = %g is not a label (a non-negative integer)", i, f)
		}
		out[i] = int32(r)
	}
	return out, nil
}
