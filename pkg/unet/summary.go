package unet

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// LevelSummary describes one resolution level of a U-Net for one input patch.
type LevelSummary struct {
	Level int
	// FeatureMap is [C, spatial...] (tensor order) of the level's feature maps.
	FeatureMap []int
	// Elements is the number of values of one feature map (the product of FeatureMap).
	Elements int
	// EncoderParams and DecoderParams count the variables under "enc_<l>" and
	// "dec_<l>" (the decoder's upsampling of level l+1 belongs to "dec_<l>");
	// HeadParams those of the segmentation head "seg_head/out_<l>".
	EncoderParams, DecoderParams, HeadParams int
	// FLOPs is the forward cost of the convolutions whose output lives at this
	// level, 2 per multiply-add (the upsampling 1x1 convolution of "dec_<l>"
	// runs at level l+1 and is counted there).
	FLOPs float64
}

// Summary describes what a U-Net computes for one input patch, level by level.
type Summary struct {
	Config Config
	// Input is [1, InChannels, patch...]; Heads holds the shape of each
	// output, finest first (one, or one per decoder level with deep supervision).
	Input  []int
	Heads  [][]int
	Levels []LevelSummary
	// Params is the number of trainable values; HeadParams those of the
	// segmentation heads (left out when fine-tuning).
	Params, HeadParams int
	// FLOPs is the forward cost of one patch (equal to ForwardFLOPs).
	FLOPs float64
}

// Summarize builds the U-Net of cfg (zero fields take the defaults of
// FromContext) on a batch of one patch (spatial size in tensor order) in a
// graph of the given backend, without compiling or running it, and reports
// the shapes, parameters and FLOPs per level. The FLOPs are read from the
// built weights: 2 * weights * output voxels for every convolution.
func Summarize(backend backends.Backend, cfg Config, patch []int) (s *Summary, err error) {
	ctx := context.New()
	cfg = cfg.FromContext(ctx)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(patch) != cfg.Dims {
		return nil, fmt.Errorf("unet: patch %v has %d axes, the network %d", patch, len(patch), cfg.Dims)
	}
	if err := cfg.CheckPatch(patch); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("unet: building the network for patch %v: %v", patch, r)
		}
	}()
	g := graph.NewGraph(backend, "unet_summary")
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, append([]int{1, cfg.InChannels}, patch...)...))
	heads := BuildAll(ctx, cfg, x)
	s = &Summary{Config: cfg, Input: x.Shape().Dimensions}
	for _, h := range heads {
		s.Heads = append(s.Heads, h.Shape().Dimensions)
	}
	voxels := make([]float64, cfg.Levels)
	for l := range cfg.Levels {
		fm := []int{cfg.Filters(l)}
		v := 1
		for a, f := range cfg.Scale(l) {
			fm = append(fm, patch[a]/f)
			v *= patch[a] / f
		}
		voxels[l] = float64(v)
		s.Levels = append(s.Levels, LevelSummary{Level: l, FeatureMap: fm, Elements: cfg.Filters(l) * v})
	}
	var verr error
	ctx.EnumerateVariables(func(v *context.Variable) {
		scope := strings.Split(strings.TrimPrefix(v.Scope(), "/"), "/")
		n := v.Shape().Size()
		s.Params += n
		kind, l, ok := levelOf(scope)
		if !ok || l < 0 || l >= cfg.Levels {
			verr = fmt.Errorf("unet: variable %s/%s outside the level scopes", v.Scope(), v.Name())
			return
		}
		at := l // level of the output voxels
		switch kind {
		case "enc":
			s.Levels[l].EncoderParams += n
		case "dec":
			s.Levels[l].DecoderParams += n
			if len(scope) > 1 && scope[1] == "up" {
				at = l + 1
			}
		case "head":
			s.Levels[l].HeadParams += n
			s.HeadParams += n
		}
		if v.Name() == "weights" && v.Shape().Rank() == cfg.Dims+2 && at < cfg.Levels {
			f := 2 * float64(n) * voxels[at]
			s.Levels[at].FLOPs += f
			s.FLOPs += f
		}
	})
	if verr != nil {
		return nil, verr
	}
	return s, nil
}

// levelOf parses the scopes "enc_<l>", "dec_<l>" and HeadScope/"out_<l>".
func levelOf(scope []string) (kind string, level int, ok bool) {
	name := scope[0]
	if name == HeadScope && len(scope) > 1 {
		kind, name = "head", scope[1]
	}
	pre, num, found := strings.Cut(name, "_")
	if !found {
		return "", 0, false
	}
	l, err := strconv.Atoi(num)
	if err != nil {
		return "", 0, false
	}
	switch {
	case kind == "head" && pre == "out":
	case kind == "" && (pre == "enc" || pre == "dec"):
		kind = pre
	default:
		return "", 0, false
	}
	return kind, l, true
}
