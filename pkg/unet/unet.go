// Package unet builds nnU-Net style U-Nets (2D or 3D) with GoMLX, plus the Dice+CE loss used to train them.
//
// Architecture (channels-first, x is [B, C, spatial...]):
//
//	encoder level l (l = 0..Levels-1), F_l = min(BaseFilters*2^l, MaxFilters) filters:
//	    block(conv k_l, stride s_l) -> block(conv k_l, stride 1)    s_0 = 1, s_l = PoolKernels[l-1]
//	    block(x) = LeakyReLU_0.01(InstanceNorm(Conv(x)))
//	decoder level l (l = Levels-2..0):
//	    up = TransposedConv(h, F_l, kernel = stride = s_{l+1})  concatenated with the skip of level l
//	    block(conv k_l) -> block(conv k_l)
//	segmentation head: 1x1 conv to NumClasses logits (scope "seg_head"), and with deep
//	supervision one more head per decoder level (also under "seg_head").
//
// Kernels k_l and strides s_l are per axis, as in nnU-Net's plans (conv_kernel_sizes,
// pool_op_kernel_sizes): by default 3 and 2 on every axis; for anisotropic data the coarse axis is
// pooled fewer times (stride 1) and convolved with kernel 1 at the finest levels.
//
// Instance normalisation is y = gamma*(x-mean)/sqrt(var+eps) + beta over the spatial axes of each
// (sample, channel), computed by hand with 1/Sqrt. The stride-2 transposed convolution with kernel 2
// is written as a 1x1 convolution to prod(s)*C channels followed by a reshape/transpose that
// interleaves the prod(s) sub-voxels ("pixel shuffle"): the two are the same linear map, and the latter has gradients
// on every backend. Every convolution sets explicit strides and kernel dilations.
//
// Precision: with Config.Precision = PrecisionBF16 the network runs in mixed precision, as nnU-Net
// does with autocast: the variables (master weights) stay float32, convolutions take bfloat16 inputs
// and weights and produce bfloat16 feature maps (half the activation memory), instance norm
// statistics are computed in float32, and the heads return float32 logits for the loss. bf16 is
// only worth it where XLA runs it natively (GPUs): ForBackend turns it off on the CPU backends.
//
// Variables live under stable, ordered scopes relative to the given context: "enc_<l>/conv_<i>",
// "dec_<l>/up", "dec_<l>/conv_<i>" and "seg_head/out_<l>", so transfer learning can load every
// variable except the HeadScope.
package unet

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	timage "github.com/gomlx/gomlx/pkg/core/tensors/images"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
)

// Context hyperparameters read by Config.FromContext when the corresponding Config field is zero.
const (
	// ParamBaseFilters is the number of filters of the first level. Default 32 (nnU-Net).
	ParamBaseFilters = "unet_base_filters"
	// ParamMaxFilters caps the number of filters of deeper levels. Default 320 (nnU-Net 3D).
	ParamMaxFilters = "unet_max_filters"
	// ParamLevels is the number of resolution levels (encoder stages). Default 4.
	ParamLevels = "unet_levels"
	// ParamConvsPerLevel is the number of conv-norm-activation blocks per level. Default 2.
	ParamConvsPerLevel = "unet_convs_per_level"
	// ParamDeepSupervision enables the extra segmentation heads on the coarser decoder levels. Default false.
	ParamDeepSupervision = "unet_deep_supervision"
	// ParamNegativeSlope is the LeakyReLU slope for negative inputs. Default 0.01.
	ParamNegativeSlope = "unet_negative_slope"
	// ParamNormEpsilon is the instance normalisation epsilon. Default 1e-5.
	ParamNormEpsilon = "unet_norm_epsilon"
)

// Defaults of the context hyperparameters.
const (
	DefaultBaseFilters   = 32
	DefaultMaxFilters    = 320
	DefaultLevels        = 4
	DefaultConvsPerLevel = 2
	DefaultNegativeSlope = 0.01
	DefaultNormEpsilon   = 1e-5
)

// Precisions of Config.Precision ("" means float32).
const (
	PrecisionFloat32 = "float32"
	PrecisionBF16    = "bf16"
)

// HeadScope is the scope (relative to the model's context) of the segmentation heads: the only
// class-specific variables, left out when fine-tuning a model on a task with other classes.
const HeadScope = "seg_head"

// Config describes a U-Net. Zero fields are filled by FromContext from the context parameters.
type Config struct {
	Dims            int  // spatial dimensions: 2 or 3
	InChannels      int  // input channels (modalities)
	NumClasses      int  // output classes including background
	BaseFilters     int  // filters at level 0
	MaxFilters      int  // cap on filters
	Levels          int  // number of resolution levels (>= 1); spatial size must be divisible by 2^(Levels-1)
	ConvsPerLevel   int  // conv blocks per level
	DeepSupervision bool // extra heads on coarser decoder levels

	NegativeSlope float64 // LeakyReLU slope
	NormEpsilon   float64 // instance norm epsilon

	// PoolKernels are the per-axis downsampling strides (1 or 2) of levels 1..Levels-1, spatial
	// axes in tensor order; nil pools every axis by 2.
	PoolKernels [][]int `json:",omitempty"`
	// ConvKernels are the per-axis kernel sizes (odd) of each level's convolutions, spatial axes in
	// tensor order; nil is 3 on every axis.
	ConvKernels [][]int `json:",omitempty"`

	// Precision is PrecisionFloat32 (or "") or PrecisionBF16 (mixed precision, see the package doc).
	Precision string `json:",omitempty"`
}

// FromContext returns a copy of cfg with zero fields taken from ctx's parameters (or the defaults).
// DeepSupervision is enabled if either cfg or the context parameter enables it.
func (cfg Config) FromContext(ctx *context.Context) Config {
	if cfg.BaseFilters == 0 {
		cfg.BaseFilters = context.GetParamOr(ctx, ParamBaseFilters, DefaultBaseFilters)
	}
	if cfg.MaxFilters == 0 {
		cfg.MaxFilters = context.GetParamOr(ctx, ParamMaxFilters, DefaultMaxFilters)
	}
	if cfg.Levels == 0 && cfg.PoolKernels != nil {
		cfg.Levels = len(cfg.PoolKernels) + 1
	}
	if cfg.Levels == 0 {
		cfg.Levels = context.GetParamOr(ctx, ParamLevels, DefaultLevels)
	}
	if cfg.ConvsPerLevel == 0 {
		cfg.ConvsPerLevel = context.GetParamOr(ctx, ParamConvsPerLevel, DefaultConvsPerLevel)
	}
	if !cfg.DeepSupervision {
		cfg.DeepSupervision = context.GetParamOr(ctx, ParamDeepSupervision, false)
	}
	if cfg.NegativeSlope == 0 {
		cfg.NegativeSlope = context.GetParamOr(ctx, ParamNegativeSlope, DefaultNegativeSlope)
	}
	if cfg.NormEpsilon == 0 {
		cfg.NormEpsilon = context.GetParamOr(ctx, ParamNormEpsilon, DefaultNormEpsilon)
	}
	return cfg
}

// withDefaults fills zero fields with the package defaults (no context).
func (cfg Config) withDefaults() Config {
	return cfg.FromContext(context.New())
}

// Validate reports an inconsistent configuration.
func (cfg Config) Validate() error {
	switch {
	case cfg.Dims != 2 && cfg.Dims != 3:
		return fmt.Errorf("unet: Dims must be 2 or 3, got %d", cfg.Dims)
	case cfg.InChannels < 1:
		return fmt.Errorf("unet: InChannels must be >= 1, got %d", cfg.InChannels)
	case cfg.NumClasses < 2:
		return fmt.Errorf("unet: NumClasses must be >= 2 (background + foreground), got %d", cfg.NumClasses)
	case cfg.BaseFilters < 1 || cfg.MaxFilters < cfg.BaseFilters:
		return fmt.Errorf("unet: need 1 <= BaseFilters (%d) <= MaxFilters (%d)", cfg.BaseFilters, cfg.MaxFilters)
	case cfg.Levels < 1 || cfg.Levels > 12:
		return fmt.Errorf("unet: Levels must be in [1,12], got %d", cfg.Levels)
	case cfg.ConvsPerLevel < 1:
		return fmt.Errorf("unet: ConvsPerLevel must be >= 1, got %d", cfg.ConvsPerLevel)
	case cfg.Precision != "" && cfg.Precision != PrecisionFloat32 && cfg.Precision != PrecisionBF16:
		return fmt.Errorf("unet: unknown precision %q (want %q or %q)", cfg.Precision, PrecisionFloat32, PrecisionBF16)
	case cfg.PoolKernels != nil && len(cfg.PoolKernels) != cfg.Levels-1:
		return fmt.Errorf("unet: %d PoolKernels for %d levels, want %d", len(cfg.PoolKernels), cfg.Levels, cfg.Levels-1)
	case cfg.ConvKernels != nil && len(cfg.ConvKernels) != cfg.Levels:
		return fmt.Errorf("unet: %d ConvKernels for %d levels, want %d", len(cfg.ConvKernels), cfg.Levels, cfg.Levels)
	}
	for l, k := range cfg.PoolKernels {
		if len(k) != cfg.Dims || slices.ContainsFunc(k, func(v int) bool { return v < 1 }) {
			return fmt.Errorf("unet: PoolKernels[%d]=%v, want %d strides >= 1", l, k, cfg.Dims)
		}
	}
	for l, k := range cfg.ConvKernels {
		if len(k) != cfg.Dims || slices.ContainsFunc(k, func(v int) bool { return v < 1 || v%2 == 0 }) {
			return fmt.Errorf("unet: ConvKernels[%d]=%v, want %d odd kernel sizes", l, k, cfg.Dims)
		}
	}
	return nil
}

// Pool returns the per-axis stride of level l: ones at level 0, PoolKernels[l-1] (default 2) below.
func (cfg Config) Pool(l int) []int {
	switch {
	case l == 0:
		return filled(cfg.Dims, 1)
	case cfg.PoolKernels != nil:
		return slices.Clone(cfg.PoolKernels[l-1])
	}
	return filled(cfg.Dims, 2)
}

// Kernel returns the per-axis convolution kernel of level l: ConvKernels[l] (default 3).
func (cfg Config) Kernel(l int) []int {
	if cfg.ConvKernels != nil {
		return slices.Clone(cfg.ConvKernels[l])
	}
	return filled(cfg.Dims, 3)
}

// Scale returns the per-axis downsampling factor of level l relative to the input: the product of
// the strides of levels 1..l.
func (cfg Config) Scale(l int) []int {
	f := filled(cfg.Dims, 1)
	for i := 1; i <= l; i++ {
		for a, s := range cfg.Pool(i) {
			f[a] *= s
		}
	}
	return f
}

func filled(n, v int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// computeDType is the dtype of the feature maps for variables of dtype master.
func (cfg Config) computeDType(master dtypes.DType) dtypes.DType {
	if cfg.Precision == PrecisionBF16 {
		return dtypes.BFloat16
	}
	return master
}

// masterDType is the dtype of the variables that act on feature maps of dtype dt: the input's
// dtype (float32, or float64 in gradient checks), float32 for bfloat16 feature maps.
func masterDType(dt dtypes.DType) dtypes.DType {
	if dt == dtypes.BFloat16 {
		return dtypes.Float32
	}
	return dt
}

// PrecisionFor returns the precision to run a requested one with on the backend named backendName
// (backends.Backend.Name), and a note when it differs. bf16 runs on XLA; GoMLX's pure-Go backends,
// fastcpu included, would emulate it far slower than float32, so there it falls back to float32.
func PrecisionFor(requested, backendName string) (precision, note string) {
	if requested != PrecisionBF16 || backendName == xlaBackendName {
		return requested, ""
	}
	return PrecisionFloat32, fmt.Sprintf("bf16 mixed precision needs XLA; backend %s computes in float32", backendName)
}

// xlaBackendName is GoMLX's xla.BackendName, spelled out so that this package does not link the
// PJRT plugin loader.
const xlaBackendName = "xla"

// ForBackend returns cfg with the precision the backend runs (see PrecisionFor) and the note, if any.
// The variables are float32 either way, so a model trained in one precision runs in the other.
func (cfg Config) ForBackend(b backends.Backend) (Config, string) {
	var note string
	cfg.Precision, note = PrecisionFor(cfg.Precision, b.Name())
	return cfg, note
}

// Filters returns the number of filters of level l.
func (cfg Config) Filters(l int) int {
	f := cfg.BaseFilters << l
	if f > cfg.MaxFilters || f <= 0 {
		f = cfg.MaxFilters
	}
	return f
}

// CheckPatch reports whether a spatial patch size fits cfg: each axis a positive multiple of its
// total downsampling factor, Scale(Levels-1).
func (cfg Config) CheckPatch(patch []int) error {
	if len(patch) != cfg.Dims {
		return fmt.Errorf("unet: patch %v has %d axes, model is %dD", patch, len(patch), cfg.Dims)
	}
	d := cfg.Scale(cfg.Levels - 1)
	for i, p := range patch {
		if p <= 0 || p%d[i] != 0 {
			return fmt.Errorf("unet: patch axis %d size %d is not a positive multiple of its downsampling factor %d", i, p, d[i])
		}
	}
	return nil
}

// Build returns the full-resolution logits [B, NumClasses, spatial...] of the U-Net applied to
// x [B, InChannels, spatial...]. Zero cfg fields come from ctx parameters (see FromContext).
func Build(ctx *context.Context, cfg Config, x *graph.Node) *graph.Node {
	return BuildAll(ctx, cfg, x)[0]
}

// BuildAll returns the logits of every head, finest first: without deep supervision only the
// full-resolution logits; with it also the logits at 1/2, 1/4, ... resolution (one per decoder level
// except the coarsest bottleneck).
func BuildAll(ctx *context.Context, cfg Config, x *graph.Node) []*graph.Node {
	cfg = cfg.FromContext(ctx)
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if x.Rank() != cfg.Dims+2 {
		panic(fmt.Errorf("unet: input must be [B, C, spatial(%d)...], got shape %s", cfg.Dims, x.Shape()))
	}
	if x.Shape().Dimensions[1] != cfg.InChannels {
		panic(fmt.Errorf("unet: input has %d channels, Config.InChannels=%d", x.Shape().Dimensions[1], cfg.InChannels))
	}
	if err := cfg.CheckPatch(x.Shape().Dimensions[2:]); err != nil {
		panic(err)
	}

	// Encoder.
	skips := make([]*graph.Node, cfg.Levels)
	h := x
	for l := 0; l < cfg.Levels; l++ {
		lctx := ctx.Inf("enc_%d", l)
		for i := 0; i < cfg.ConvsPerLevel; i++ {
			stride := filled(cfg.Dims, 1)
			if i == 0 {
				stride = cfg.Pool(l)
			}
			h = convBlock(lctx.Inf("conv_%d", i), cfg, h, cfg.Filters(l), cfg.Kernel(l), stride)
		}
		skips[l] = h
	}

	// Decoder: finest output last, collect heads.
	ones := filled(cfg.Dims, 1)
	heads := make([]*graph.Node, 0, cfg.Levels)
	headCtx := ctx.In(HeadScope)
	for l := cfg.Levels - 2; l >= 0; l-- {
		lctx := ctx.Inf("dec_%d", l)
		h = upsample(lctx.In("up"), cfg, h, cfg.Filters(l), cfg.Pool(l+1))
		h = graph.Concatenate([]*graph.Node{h, skips[l]}, 1)
		for i := 0; i < cfg.ConvsPerLevel; i++ {
			h = convBlock(lctx.Inf("conv_%d", i), cfg, h, cfg.Filters(l), cfg.Kernel(l), filled(cfg.Dims, 1))
		}
		if cfg.DeepSupervision || l == 0 {
			heads = append(heads, conv(headCtx.Inf("out_%d", l), cfg, h, cfg.NumClasses, ones, ones, true))
		}
	}
	if cfg.Levels == 1 {
		heads = append(heads, conv(headCtx.Inf("out_%d", 0), cfg, h, cfg.NumClasses, ones, ones, true))
	}
	// Reverse: finest first; logits in the input's dtype (float32 under bf16) for the loss.
	for i, j := 0, len(heads)-1; i < j; i, j = i+1, j-1 {
		heads[i], heads[j] = heads[j], heads[i]
	}
	for i, h := range heads {
		heads[i] = graph.ConvertDType(h, masterDType(x.DType()))
	}
	return heads
}

// conv is a channels-first convolution with "same" padding, per-axis kernel and strides, and
// kernel dilations 1. Weights are [out, in, k...] in the master dtype (see masterDType), He-normal
// initialised (fan-in = in*prod(k)); optional zero-initialised bias. It computes in cfg's precision
// and returns feature maps of that dtype.
func conv(ctx *context.Context, cfg Config, x *graph.Node, out int, kernel, stride []int, bias bool) *graph.Node {
	in := x.Shape().Dimensions[1]
	dims := []int{out, in}
	fanIn := in
	for _, k := range kernel {
		dims = append(dims, k)
		fanIn *= k
	}
	std := math.Sqrt(2 / float64(fanIn))
	master := masterDType(x.DType())
	wShape := shapes.Make(master, dims...)
	w := ctx.WithInitializer(func(g *graph.Graph, s shapes.Shape) *graph.Node {
		return graph.MulScalar(ctx.RandomNormal(g, s), std)
	}).VariableWithShape("weights", wShape).ValueGraph(x.Graph())
	dtype := cfg.computeDType(master)
	x, w = graph.ConvertDType(x, dtype), graph.ConvertDType(w, dtype)
	y := graph.Convolve(x, w).ChannelsAxis(timage.ChannelsFirst).StridePerAxis(stride...).
		DilationPerAxis(filled(cfg.Dims, 1)...).PadSame().Done()
	if bias {
		b := ctx.WithInitializer(zerosInit).VariableWithShape("bias", shapes.Make(master, out)).ValueGraph(x.Graph())
		y = graph.Add(y, graph.Reshape(graph.ConvertDType(b, dtype), channelShape(out, cfg.Dims)...))
	}
	return y
}

func zerosInit(g *graph.Graph, s shapes.Shape) *graph.Node { return graph.Zeros(g, s) }

func onesInit(g *graph.Graph, s shapes.Shape) *graph.Node { return graph.Ones(g, s) }

// channelShape is [1, c, 1, ...] for broadcasting a per-channel vector.
func channelShape(c, dims int) []int {
	s := []int{1, c}
	for range dims {
		s = append(s, 1)
	}
	return s
}

// convBlock is LeakyReLU(InstanceNorm(Conv(x))). The conv has no bias: the norm's beta replaces it.
func convBlock(ctx *context.Context, cfg Config, x *graph.Node, out int, kernel, stride []int) *graph.Node {
	y := conv(ctx, cfg, x, out, kernel, stride, false)
	y = InstanceNorm(ctx.In("norm"), y, cfg.NormEpsilon)
	return activations.LeakyReluWithAlpha(y, cfg.NegativeSlope)
}

// InstanceNorm normalises x [B, C, spatial...] over its spatial axes per (sample, channel) and
// applies a learned per-channel scale ("gamma", init 1) and offset ("beta", init 0). Statistics and
// variables are float32 for bfloat16 input (see masterDType); it returns x's dtype.
func InstanceNorm(ctx *context.Context, x *graph.Node, eps float64) *graph.Node {
	inDType := x.DType()
	x = graph.ConvertDType(x, masterDType(inDType))
	c := x.Shape().Dimensions[1]
	dims := x.Rank() - 2
	axes := make([]int, dims)
	for i := range axes {
		axes[i] = i + 2
	}
	mean := graph.ReduceAndKeep(x, graph.ReduceMean, axes...)
	centered := graph.Sub(x, mean)
	variance := graph.ReduceAndKeep(graph.Square(centered), graph.ReduceMean, axes...)
	invStd := graph.Reciprocal(graph.Sqrt(graph.AddScalar(variance, eps)))
	g := x.Graph()
	gamma := ctx.WithInitializer(onesInit).VariableWithShape("gamma", shapes.Make(x.DType(), c)).ValueGraph(g)
	beta := ctx.WithInitializer(zerosInit).VariableWithShape("beta", shapes.Make(x.DType(), c)).ValueGraph(g)
	scale := graph.Mul(invStd, graph.Reshape(gamma, channelShape(c, dims)...))
	y := graph.Add(graph.Mul(centered, scale), graph.Reshape(beta, channelShape(c, dims)...))
	return graph.ConvertDType(y, inDType)
}

// upsample is a transposed convolution with kernel = stride = f (per axis) x [B, Cin, s...] ->
// [B, out, f*s...], written as a 1x1 convolution to out*prod(f) channels (with bias) whose channel
// axis is unfolded into the sub-voxel offsets: out[b, c, f0*i+a, f1*j+b', ...] = y[b, (c, a, b', ...), i, j, ...].
func upsample(ctx *context.Context, cfg Config, x *graph.Node, out int, f []int) *graph.Node {
	d := cfg.Dims
	sub := 1
	for _, v := range f {
		sub *= v
	}
	ones := filled(d, 1)
	y := conv(ctx, cfg, x, out*sub, ones, ones, true)
	dimsIn := x.Shape().Dimensions
	batch, spatial := dimsIn[0], dimsIn[2:]
	// [B, out, f0, f1, (f2), s0, s1, (s2)]
	shape := append([]int{batch, out}, f...)
	shape = append(shape, spatial...)
	y = graph.Reshape(y, shape...)
	// -> [B, out, s0, f0, s1, f1, (s2, f2)]
	perm := []int{0, 1}
	for i := range d {
		perm = append(perm, 2+d+i, 2+i)
	}
	y = graph.TransposeAllDims(y, perm...)
	final := []int{batch, out}
	for i, s := range spatial {
		final = append(final, f[i]*s)
	}
	return graph.Reshape(y, final...)
}
