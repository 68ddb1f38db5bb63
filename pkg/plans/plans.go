// Package plans turns a dataset fingerprint into an experiment plan the way
// nnU-Net does, for a given memory budget, and stores it as readable JSON a
// person may edit.
//
// All spatial arrays (spacing, shapes, patch sizes, pooling) are in the x, y, z
// order of the volumes after reorientation to the plan's Orientation (RAS by
// default). nnU-Net prints the same values in z, y, x order: its Hippocampus
// patch "40x56x40" is x=40, y=56, z=40 here.
//
// The rules:
//
//   - Target spacing: the per-axis median of the case spacings. If the
//     largest-spacing axis is more than AnisotropyThreshold (3) times coarser
//     than the others and has 3 times fewer voxels, its spacing becomes the 10th
//     percentile of that axis (never finer than the other axes).
//   - Median shape: the median over cases of the cropped shape rescaled to the
//     target spacing.
//   - Pooling (nnU-Net's get_pool_and_conv_props): at each level, axes whose
//     current spacing is within a factor 2 of the finest poolable axis are
//     pooled by 2 while
//     their current size is at least 2*4 voxels (feature maps never drop under 4
//     voxels); convolutions are 3 on axes within a factor 2 of each other, else 1.
//     The patch is then rounded up to a multiple of 2^pools per axis.
//   - Patch and batch: the patch starts as a 512 mm cube in voxels clipped to
//     the median shape; while the estimated activation memory of the U-Net for
//     MinBatch samples exceeds the budget, the axis largest relative to the
//     median shape shrinks by one pooling unit. The batch is what fits the
//     budget, at most what covers 5% of the dataset's voxels, at least MinBatch.
//   - Memory: nnU-Net's approximate count of feature-map elements for one
//     sample (per stage 2*convs+1 maps of encoder, decoder and upsampling at
//     that stage's size and width, plus input and output) times bytes per
//     element. The bytes per element are calibrated so that "GPU 8 GB" equals
//     nnU-Net's reference (520e6*32/30 elements per sample at batch 2, mixed
//     precision); float32 training counts twice that per element.
//   - Precision: bf16 mixed precision for GPU budgets (XLA runs it natively;
//     it halves the activation memory, so an 8 GB card trains nnU-Net's
//     full-resolution patches), float32 for CPU budgets. Options.Precision
//     overrides it; the value is unet.Config.Precision's.
//   - Filters: BaseFilters doubling per level, capped at 320 (3D) or 512 (2D).
//   - Normalisation: CT channels use the dataset foreground statistics (clip to
//     the 0.5/99.5 percentiles, z-score); other channels are z-scored per image,
//     over the nonzero mask when cropping reduced the median case below 3/4 of
//     its voxels.
//   - 2D: slices along the largest-spacing axis (z on ties), the in-plane
//     median shape as the starting patch, the same memory rule; it uses the 3D
//     preprocessed data.
package plans

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/volume"
)

// Version of the plan format.
const Version = 1

// Configuration names.
const (
	Config3D = "3d_fullres"
	Config2D = "2d"
)

// Options of Make; zero fields take the defaults noted.
type Options struct {
	// Budget such as "GPU 8 GB" (default) or "CPU RAM 4 GB".
	Budget string
	// Precision of training: PrecisionBF16 or PrecisionFloat32 (default: by
	// the budget's kind, DefaultPrecision).
	Precision string
	// BaseFilters of the first level (32).
	BaseFilters int
	// MaxFilters3D (320) and MaxFilters2D (512) cap the width.
	MaxFilters3D, MaxFilters2D int
	// MinBatch (2).
	MinBatch int
	// MinFeatureMap is the smallest feature map edge in the bottleneck (4).
	MinFeatureMap int
	// ConvPerStage (2).
	ConvPerStage int
	// MaxDatasetCoverage caps the batch at this fraction of the dataset's voxels (0.05).
	MaxDatasetCoverage float64
	// Orientation the data is reoriented to ("RAS").
	Orientation string
	// ImageInterpolation of images when resampling (volume.Linear).
	ImageInterpolation volume.Interp
}

func (o *Options) defaults() {
	if o.Budget == "" {
		o.Budget = "GPU 8 GB"
	}
	if o.BaseFilters == 0 {
		o.BaseFilters = 32
	}
	if o.MaxFilters3D == 0 {
		o.MaxFilters3D = 320
	}
	if o.MaxFilters2D == 0 {
		o.MaxFilters2D = 512
	}
	if o.MinBatch == 0 {
		o.MinBatch = 2
	}
	if o.MinFeatureMap == 0 {
		o.MinFeatureMap = 4
	}
	if o.ConvPerStage == 0 {
		o.ConvPerStage = 2
	}
	if o.MaxDatasetCoverage == 0 {
		o.MaxDatasetCoverage = 0.05
	}
	if o.Orientation == "" {
		o.Orientation = "RAS"
	}
}

// ChannelNorm is the normalisation of one input channel.
type ChannelNorm struct {
	Modality string `json:"modality"`
	volume.Norm
}

// Plans is an experiment plan.
type Plans struct {
	Version   int    `json:"version"`
	Dataset   string `json:"dataset"`
	AxisOrder string `json:"axis_order"`
	Note      string `json:"note,omitempty"`
	// Budget the plan was made for, as given and in bytes.
	Budget      string `json:"memory_budget"`
	BudgetBytes int64  `json:"memory_budget_bytes"`
	// Precision of training the memory estimate counts (PrecisionBF16 or
	// PrecisionFloat32). Plans written without it get DefaultPrecision.
	Precision string `json:"precision"`
	// Orientation the volumes are reoriented to.
	Orientation string `json:"orientation"`
	// CropNonzero crops cases to the nonzero region of the image.
	CropNonzero bool `json:"crop_to_nonzero"`
	// TargetSpacing in mm (x, y, z).
	TargetSpacing       [3]float64 `json:"target_spacing"`
	AnisotropyThreshold float64    `json:"anisotropy_threshold"`
	// ImageInterpolation for resampling images: "linear" (default) or
	// "cubic" (closer to nnU-Net's third-order splines, slower).
	ImageInterpolation volume.Interp `json:"image_interpolation"`
	// Normalization per input channel.
	Normalization []ChannelNorm `json:"normalization"`
	// Labels are the label values, 0 (background) first; NumClasses = len.
	Labels     []int          `json:"labels"`
	LabelNames map[int]string `json:"label_names,omitempty"`
	NumCases   int            `json:"num_training_cases"`
	// Configurations by name (Config3D, Config2D).
	Configurations map[string]*Config `json:"configurations"`
}

// Config is one network configuration.
type Config struct {
	Dims int `json:"dims"`
	// SliceAxis is the axis 2D slices are taken along (2D only).
	SliceAxis *int `json:"slice_axis,omitempty"`
	// Axes are the volume axes the patch spans, in order (3D: 0,1,2).
	Axes []int `json:"axes"`
	// Spacing of the patch axes in mm.
	Spacing []float64 `json:"spacing"`
	// MedianShape of the cases at the target spacing (x, y, z).
	MedianShape [3]int `json:"median_shape"`
	PatchSize   []int  `json:"patch_size"`
	BatchSize   int    `json:"batch_size"`
	// PoolPerAxis counts the 2x poolings of each patch axis.
	PoolPerAxis []int `json:"pool_per_axis"`
	// PoolKernels per downsampling step and ConvKernels per level (one more).
	PoolKernels [][]int `json:"pool_kernels"`
	ConvKernels [][]int `json:"conv_kernels"`
	// Filters per level; Levels = len(Filters) = len(PoolKernels)+1.
	Filters      []int `json:"filters"`
	BaseFilters  int   `json:"base_filters"`
	MaxFilters   int   `json:"max_filters"`
	Levels       int   `json:"levels"`
	ConvPerStage int   `json:"conv_per_stage"`
	// EstimatedBytes is the activation memory estimate at BatchSize.
	EstimatedBytes int64 `json:"estimated_memory_bytes"`
}

// Referent of the memory model (see the package doc).
const (
	referenceElements = 520e6 * 32 / 30
	referenceBatch    = 2
	referenceBytes    = 8e9
	// GPUBytesPerElement is the calibrated memory per feature-map element per sample.
	GPUBytesPerElement = referenceBytes / (referenceBatch * referenceElements)
)

// Precisions of training (the values of unet.Config.Precision).
const (
	PrecisionBF16    = "bf16"    // mixed precision: bfloat16 feature maps, float32 weights
	PrecisionFloat32 = "float32" // everything float32
)

// DefaultPrecision is the precision for a budget kind: bf16 on a GPU, float32 on a CPU.
func DefaultPrecision(kind string) string {
	if kind == "CPU" {
		return PrecisionFloat32
	}
	return PrecisionBF16
}

// BytesPerElement returns the memory per counted element for a precision.
func BytesPerElement(precision string) float64 {
	if precision == PrecisionBF16 {
		return GPUBytesPerElement
	}
	return 2 * GPUBytesPerElement
}

func checkPrecision(precision string) error {
	if precision != PrecisionBF16 && precision != PrecisionFloat32 {
		return fmt.Errorf("precision %q, want %q or %q", precision, PrecisionBF16, PrecisionFloat32)
	}
	return nil
}

// Make computes the plan for a fingerprint.
func Make(fp *fingerprint.Fingerprint, opt Options) (*Plans, error) {
	opt.defaults()
	budget, err := ParseBudget(opt.Budget)
	if err != nil {
		return nil, err
	}
	if opt.Precision == "" {
		opt.Precision = DefaultPrecision(budget.Kind)
	}
	if err := checkPrecision(opt.Precision); err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	if len(fp.Cases) == 0 {
		return nil, fmt.Errorf("plans: fingerprint of %q has no cases", fp.Dataset)
	}
	p := &Plans{
		Version: Version, Dataset: fp.Dataset, AxisOrder: "x,y,z",
		Note:   "Arrays are in x,y,z order of the volumes reoriented to 'orientation' (nnU-Net prints z,y,x). Edit freely; Load validates.",
		Budget: opt.Budget, BudgetBytes: budget.Bytes, Precision: opt.Precision, Orientation: opt.Orientation, CropNonzero: true,
		AnisotropyThreshold: volume.AnisotropyThreshold, ImageInterpolation: opt.ImageInterpolation, NumCases: len(fp.Cases), LabelNames: fp.Labels,
		Configurations: map[string]*Config{},
	}
	p.Labels = slices.Clone(fp.LabelValues)
	if len(p.Labels) == 0 || p.Labels[0] != 0 {
		p.Labels = append([]int{0}, p.Labels...)
	}
	for l := range fp.Labels {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	sort.Ints(p.Labels)
	channels := len(fp.ForegroundPerChannel)
	for c := 0; c < channels; c++ {
		mod := ""
		if c < len(fp.Modalities) {
			mod = fp.Modalities[c]
		}
		n := ChannelNorm{Modality: mod, Norm: volume.Norm{Scheme: volume.SchemeFor(mod)}}
		if n.Scheme == volume.SchemeCT {
			s := fp.ForegroundPerChannel[c]
			n.Mean, n.Std, n.Lower, n.Upper = s.Mean, s.Std, s.P005, s.P995
		} else {
			n.UseMask = fp.MedianRelativeSizeAfterCrop < 0.75
		}
		p.Normalization = append(p.Normalization, n)
	}
	p.TargetSpacing = TargetSpacing(fp.Spacings(), fp.ShapesAfterCrop(), p.AnisotropyThreshold)
	median := MedianShape(fp.Spacings(), fp.ShapesAfterCrop(), p.TargetSpacing)
	numClasses := len(p.Labels)
	datasetVoxels := float64(median[0]) * float64(median[1]) * float64(median[2]) * float64(len(fp.Cases))

	c3, err := configure([]int{0, 1, 2}, p.TargetSpacing, median, datasetVoxels, channels, numClasses, budget, opt, opt.MaxFilters3D)
	if err != nil {
		return nil, err
	}
	p.Configurations[Config3D] = c3
	slice := SliceAxis(p.TargetSpacing)
	var inPlane []int
	for a := 0; a < 3; a++ {
		if a != slice {
			inPlane = append(inPlane, a)
		}
	}
	c2, err := configure(inPlane, p.TargetSpacing, median, datasetVoxels, channels, numClasses, budget, opt, opt.MaxFilters2D)
	if err != nil {
		return nil, err
	}
	c2.SliceAxis = &slice
	p.Configurations[Config2D] = c2
	return p, nil
}

// SliceAxis is the axis 2D slices are taken along: the largest spacing, z on ties.
func SliceAxis(spacing [3]float64) int {
	a := 2
	for i := 1; i >= 0; i-- {
		if spacing[i] > spacing[a] {
			a = i
		}
	}
	return a
}

func percentileAxis(vals []float64, q float64) float64 {
	v := slices.Clone(vals)
	sort.Float64s(v)
	return fingerprint.Percentile(v, q)
}

// TargetSpacing implements nnU-Net's target spacing rule (see the package doc).
func TargetSpacing(spacings [][3]float64, shapes [][3]int, threshold float64) [3]float64 {
	var target, size [3]float64
	for a := 0; a < 3; a++ {
		var sp, sz []float64
		for i := range spacings {
			sp = append(sp, spacings[i][a])
			sz = append(sz, float64(shapes[i][a]))
		}
		target[a] = percentileAxis(sp, 50)
		size[a] = percentileAxis(sz, 50)
	}
	worst := 0
	for a := 1; a < 3; a++ {
		if target[a] > target[worst] {
			worst = a
		}
	}
	maxOther, minOtherSize := 0.0, math.Inf(1)
	for a := 0; a < 3; a++ {
		if a != worst {
			maxOther = math.Max(maxOther, target[a])
			minOtherSize = math.Min(minOtherSize, size[a])
		}
	}
	if target[worst] > threshold*maxOther && size[worst]*threshold < minOtherSize {
		var sp []float64
		for i := range spacings {
			sp = append(sp, spacings[i][worst])
		}
		t := percentileAxis(sp, 10)
		if t < maxOther {
			t = maxOther + 1e-5
		}
		target[worst] = t
	}
	return target
}

// MedianShape is the per-axis median over cases of the shape at the target spacing.
func MedianShape(spacings [][3]float64, shapes [][3]int, target [3]float64) [3]int {
	var out [3]int
	for a := 0; a < 3; a++ {
		var v []float64
		for i := range shapes {
			v = append(v, float64(shapes[i][a])*spacings[i][a]/target[a])
		}
		out[a] = max(1, int(math.RoundToEven(percentileAxis(v, 50))))
	}
	return out
}

// Topology is the pooling layout for a patch.
type Topology struct {
	PoolPerAxis []int
	PoolKernels [][]int
	ConvKernels [][]int
	// Patch rounded up to a multiple of Divisor per axis.
	Patch   []int
	Divisor []int
}

// PoolAndConv is nnU-Net's get_pool_and_conv_props for a patch with the given
// spacing (see the package doc).
func PoolAndConv(spacing []float64, patch []int, minFeature int) Topology {
	dim := len(spacing)
	cur := slices.Clone(spacing)
	size := make([]float64, dim)
	for i, s := range patch {
		size[i] = float64(s)
	}
	t := Topology{PoolPerAxis: make([]int, dim)}
	for {
		// Finest spacing among the axes that can still be pooled (nnU-Net v2's
		// fix: an axis that stopped pooling must not stop the others).
		minSp := math.Inf(1)
		for i := 0; i < dim; i++ {
			if size[i] >= float64(2*minFeature) {
				minSp = math.Min(minSp, cur[i])
			}
		}
		var partners []int
		for a := 0; a < dim; a++ {
			var p []int
			for i := 0; i < dim; i++ {
				if cur[i]/cur[a] < 2 && cur[a]/cur[i] < 2 {
					p = append(p, i)
				}
			}
			if len(p) > len(partners) {
				partners = p
			}
		}
		conv := make([]int, dim)
		for i := range conv {
			conv[i] = 1
			if slices.Contains(partners, i) {
				conv[i] = 3
			}
		}
		pool := make([]int, dim)
		any := false
		for i := 0; i < dim; i++ {
			pool[i] = 1
			if cur[i]/minSp < 2 && size[i] >= float64(2*minFeature) {
				pool[i] = 2
				any = true
			}
		}
		if !any {
			break
		}
		for i := 0; i < dim; i++ {
			if pool[i] == 2 {
				t.PoolPerAxis[i]++
				cur[i] *= 2
				size[i] /= 2
			}
		}
		t.PoolKernels = append(t.PoolKernels, pool)
		t.ConvKernels = append(t.ConvKernels, conv)
	}
	t.ConvKernels = append(t.ConvKernels, slices.Repeat([]int{3}, dim))
	t.Patch = make([]int, dim)
	t.Divisor = make([]int, dim)
	for i := 0; i < dim; i++ {
		d := 1 << t.PoolPerAxis[i]
		t.Divisor[i] = d
		t.Patch[i] = (patch[i] + d - 1) / d * d
	}
	return t
}

// Elements is nnU-Net's approximate number of feature-map elements of one
// sample through the U-Net (compute_approx_vram_consumption without deep
// supervision).
func Elements(patch []int, poolKernels [][]int, base, maxFilters, inChannels, numClasses, convPerStage int) float64 {
	size := make([]float64, len(patch))
	n := 1.0
	for i, s := range patch {
		size[i] = float64(s)
		n *= float64(s)
	}
	total := float64(2*convPerStage+1)*n*float64(base) + float64(inChannels)*n + float64(numClasses)*n
	feat := base
	for p, k := range poolKernels {
		n = 1
		for i := range size {
			size[i] /= float64(k[i])
			n *= size[i]
		}
		feat = min(2*feat, maxFilters)
		blocks := 2*convPerStage + 1
		if p == len(poolKernels)-1 {
			blocks = convPerStage
		}
		total += float64(blocks) * n * float64(feat)
	}
	return total
}

func configure(axes []int, target [3]float64, median [3]int, datasetVoxels float64, channels, numClasses int, budget Budget, opt Options, maxFilters int) (*Config, error) {
	dim := len(axes)
	spacing := make([]float64, dim)
	med := make([]int, dim)
	for i, a := range axes {
		spacing[i] = target[a]
		med[i] = median[a]
	}
	patch := make([]int, dim)
	if dim == 3 {
		// A 512 mm cube in voxels, clipped to the median shape.
		inv := make([]float64, dim)
		for i := range inv {
			inv[i] = 1 / spacing[i]
		}
		m := slices.Min(inv)
		for i := range patch {
			patch[i] = min(int(math.Round(inv[i]/m*512)), med[i])
		}
	} else {
		copy(patch, med)
	}
	bpe := BytesPerElement(opt.Precision)
	topo := PoolAndConv(spacing, patch, opt.MinFeatureMap)
	perSample := func(t Topology) float64 {
		return bpe * Elements(t.Patch, t.PoolKernels, opt.BaseFilters, maxFilters, channels, numClasses, opt.ConvPerStage)
	}
	for perSample(topo)*float64(opt.MinBatch) > float64(budget.Bytes) {
		// Shrink the axis that is largest relative to the median shape.
		ax, best := 0, -1.0
		for i := range topo.Patch {
			if r := float64(topo.Patch[i]) / float64(med[i]); r > best {
				ax, best = i, r
			}
		}
		tmp := slices.Clone(topo.Patch)
		tmp[ax] -= topo.Divisor[ax]
		if tmp[ax] < 1 {
			return nil, fmt.Errorf("plans: budget %s is too small for even the smallest %dD patch with batch %d", budget, dim, opt.MinBatch)
		}
		step := PoolAndConv(spacing, tmp, opt.MinFeatureMap).Divisor[ax]
		next := slices.Clone(topo.Patch)
		next[ax] -= step
		if next[ax] < 1 {
			return nil, fmt.Errorf("plans: budget %s is too small for even the smallest %dD patch with batch %d", budget, dim, opt.MinBatch)
		}
		topo = PoolAndConv(spacing, next, opt.MinFeatureMap)
	}
	batch := int(math.Floor(float64(budget.Bytes) / perSample(topo)))
	patchVox := 1.0
	for _, s := range topo.Patch {
		patchVox *= float64(s)
	}
	maxBatch := max(int(math.Round(opt.MaxDatasetCoverage*datasetVoxels/patchVox)), opt.MinBatch)
	batch = max(opt.MinBatch, min(batch, maxBatch))
	c := &Config{
		Dims: dim, Axes: slices.Clone(axes), Spacing: spacing, MedianShape: median, PatchSize: topo.Patch, BatchSize: batch,
		PoolPerAxis: topo.PoolPerAxis, PoolKernels: topo.PoolKernels, ConvKernels: topo.ConvKernels,
		BaseFilters: opt.BaseFilters, MaxFilters: maxFilters, Levels: len(topo.PoolKernels) + 1, ConvPerStage: opt.ConvPerStage,
	}
	for l := 0; l < c.Levels; l++ {
		c.Filters = append(c.Filters, min(opt.BaseFilters<<l, maxFilters))
	}
	c.EstimatedBytes = int64(perSample(topo) * float64(batch))
	return c, nil
}

// PreprocessSteps returns the volume.Steps that preprocess cases for p.
func (p *Plans) PreprocessSteps() volume.Steps {
	s := volume.Steps{Orientation: p.Orientation, CropNonzero: p.CropNonzero, TargetSpacing: p.TargetSpacing,
		AnisotropyThreshold: p.AnisotropyThreshold, ImageInterp: p.ImageInterpolation}
	for _, n := range p.Normalization {
		s.Norm = append(s.Norm, n.Norm)
	}
	return s
}

// PreprocessHash identifies the preprocessed data of p: a hash of the fields
// that change it (orientation, cropping, target spacing, anisotropy rule,
// normalisation, labels), not of the network fields.
func (p *Plans) PreprocessHash() string {
	b, _ := json.Marshal(struct {
		Version int
		Steps   volume.Steps
		Labels  []int
	}{Version, p.PreprocessSteps(), p.Labels})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}
