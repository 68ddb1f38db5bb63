// Package infer segments whole volumes with a trained U-Net by sliding-window inference, as
// nnU-Net does.
//
// The (preprocessed) volume, channels first [C, Z, Y, X], is covered by tiles of the training patch
// size. Along an axis of size S with patch P the tiles start at n evenly spaced positions
// round(i*(S-P)/(n-1)), n = ceil((S-P)/(P*(1-overlap))) + 1, so neighbouring tiles overlap by at
// least overlap*P (nnU-Net: 0.5). Volumes smaller than the patch are padded with zeros and cropped
// back. Each tile's softmax probabilities are accumulated with a Gaussian importance weight
//
//	w(p) = exp(-sum_a (p_a - c_a)^2 / (2 sigma_a^2)),  sigma_a = P_a/8, c the tile centre,
//
// normalised to a maximum of 1 and floored at its smallest positive value (so the border of a tile
// still counts where no other tile reaches), and the sum is divided by the summed weights. With
// mirroring, each tile is also predicted flipped along every subset of the spatial axes and the
// flipped-back probabilities averaged (2^d passes, test-time augmentation). 2D models run on the
// z slices of the volume (patch (1, Y, X)).
//
// PredictCase and PredictFile go from an original image to a label map in the image's own
// geometry: volume.Prepare (the training preprocessing), sliding window, probabilities mapped
// back with the preprocessing record (volume.Record.ToOriginalProbs), argmax.
package infer

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/train"
	"github.com/msdkit/msdkit/pkg/unet"
	"github.com/msdkit/msdkit/pkg/volume"
)

// Defaults.
const (
	DefaultOverlap    = 0.5
	DefaultSigmaScale = 1.0 / 8
	DefaultBatchSize  = 2
)

// Predictor runs a model over whole volumes.
type Predictor struct {
	Backend backends.Backend
	Ctx     *context.Context
	Model   unet.Config
	// Patch is the tile size (z, y, x); for 2D models Patch[0] is 1.
	Patch [3]int
	// Overlap is the minimum overlap of neighbouring tiles, a fraction of the patch (default 0.5).
	Overlap float64
	// SigmaScale is the Gaussian sigma as a fraction of the patch (default 1/8); 0 means default,
	// negative means uniform weights.
	SigmaScale float64
	// Mirror enables mirroring test-time augmentation.
	Mirror bool
	// BatchSize is the number of tiles per forward pass (default 2).
	BatchSize int
	// LabelValues maps class index to the label value written (default: the index).
	LabelValues []int
	// Progress, if set, is called after each batch of tiles with (done, total).
	Progress func(done, total int)
	// ProbsFn, if set, replaces the model: it maps tiles [B, C, spatial...] to probabilities
	// [B, NumClasses, spatial...] (default: softmax of the U-Net's logits).
	ProbsFn func(ctx *context.Context, x *graph.Node) *graph.Node
	// Steps is the training preprocessing PredictCase callers pass (Load reads it from the run).
	Steps volume.Steps
	// Postprocessing is applied by PredictCase to the label map in the original geometry (Load
	// reads it from the run's postprocessing.json when there is one).
	Postprocessing Postprocessing

	exec *context.Exec
}

// New returns a predictor for a model whose variables are in ctx (under train.ModelScope).
// patch is the training patch: (z, y, x) for 3D models, (y, x) for 2D ones.
func New(backend backends.Backend, ctx *context.Context, cfg unet.Config, patch []int) (*Predictor, error) {
	cfg = cfg.FromContext(context.New())
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, _ = cfg.ForBackend(backend) // bf16 only on XLA; the weights are float32 either way.
	if err := cfg.CheckPatch(patch); err != nil {
		return nil, err
	}
	p := &Predictor{Backend: backend, Ctx: ctx, Model: cfg}
	if cfg.Dims == 2 {
		p.Patch = [3]int{1, patch[0], patch[1]}
	} else {
		p.Patch = [3]int{patch[0], patch[1], patch[2]}
	}
	return p, nil
}

// Load returns a predictor for the latest checkpoint of a training run directory, with the run's
// preprocessing (Steps), label values (from its plan) and postprocessing rules.
func Load(backend backends.Backend, dir string) (*Predictor, *train.ModelInfo, error) {
	info, ctx, err := train.LoadModel(dir)
	if err != nil {
		return nil, nil, err
	}
	p, err := New(backend, ctx, info.Model, info.Patch)
	if err != nil {
		return nil, nil, fmt.Errorf("infer: %s: %w", dir, err)
	}
	if len(info.Preprocessing) > 0 {
		if err := json.Unmarshal(info.Preprocessing, &p.Steps); err != nil {
			return nil, nil, fmt.Errorf("infer: %s: preprocessing: %w", dir, err)
		}
	}
	if len(info.Plans) > 0 {
		pl, err := plans.Parse(info.Plans)
		if err != nil {
			return nil, nil, fmt.Errorf("infer: %s: plans: %w", dir, err)
		}
		p.LabelValues = pl.Labels
	}
	if p.Postprocessing, _, err = LoadPostprocessing(filepath.Join(dir, PostprocessingFile)); err != nil {
		return nil, nil, err
	}
	return p, info, nil
}

// TileStarts returns the start positions of the tiles along an axis of the given size.
func TileStarts(size, patch int, overlap float64) []int {
	if size <= patch {
		return []int{0}
	}
	step := float64(patch) * (1 - overlap)
	if step < 1 {
		step = 1
	}
	n := int(math.Ceil(float64(size-patch)/step)) + 1
	starts := make([]int, n)
	for i := range starts {
		starts[i] = int(math.Round(float64(i) * float64(size-patch) / float64(n-1)))
	}
	return starts
}

// GaussianMap returns the importance weights of a tile [pz*py*px] (z slowest), normalised to a
// maximum of 1 and floored at the smallest positive weight. sigmaScale <= 0 gives uniform weights.
// Axes of size 1 are constant.
func GaussianMap(patch [3]int, sigmaScale float64) []float32 {
	n := patch[0] * patch[1] * patch[2]
	w := make([]float32, n)
	if sigmaScale <= 0 {
		for i := range w {
			w[i] = 1
		}
		return w
	}
	var axis [3][]float64
	for a := range 3 {
		axis[a] = make([]float64, patch[a])
		c := float64(patch[a]-1) / 2
		s := float64(patch[a]) * sigmaScale
		for i := range axis[a] {
			if patch[a] == 1 {
				axis[a][i] = 1
				continue
			}
			d := float64(i) - c
			axis[a][i] = math.Exp(-d * d / (2 * s * s))
		}
	}
	maxW, minPos := 0.0, math.Inf(1)
	vals := make([]float64, n)
	i := 0
	for z := range patch[0] {
		for y := range patch[1] {
			for x := range patch[2] {
				v := axis[0][z] * axis[1][y] * axis[2][x]
				vals[i] = v
				maxW = math.Max(maxW, v)
				i++
			}
		}
	}
	for i, v := range vals {
		v /= maxW
		vals[i] = v
		if v > 0 {
			minPos = math.Min(minPos, v)
		}
	}
	for i, v := range vals {
		w[i] = float32(math.Max(v, minPos))
	}
	return w
}

// buildExec compiles the tile function: softmax probabilities [B, K, spatial...], averaged over
// mirrorings when enabled.
func (p *Predictor) buildExec() error {
	if p.exec != nil {
		return nil
	}
	cfg, mirror, probsFn := p.Model, p.Mirror, p.ProbsFn
	if probsFn == nil {
		probsFn = func(ctx *context.Context, x *graph.Node) *graph.Node {
			return graph.Softmax(train.Model(ctx, cfg, x)[0], 1)
		}
	}
	exec, err := context.NewExec(p.Backend, p.Ctx.Reuse(), func(ctx *context.Context, x *graph.Node) *graph.Node {
		probs := func(x *graph.Node) *graph.Node { return probsFn(ctx, x) }
		if !mirror {
			return probs(x)
		}
		d := cfg.Dims
		var sum *graph.Node
		for mask := 0; mask < 1<<d; mask++ {
			var axes []int
			for a := range d {
				if mask&(1<<a) != 0 {
					axes = append(axes, 2+a)
				}
			}
			var y *graph.Node
			if len(axes) == 0 {
				y = probs(x)
			} else {
				y = graph.Reverse(probs(graph.Reverse(x, axes...)), axes...)
			}
			if sum == nil {
				sum = y
			} else {
				sum = graph.Add(sum, y)
			}
		}
		return graph.DivScalar(sum, float64(int(1)<<d))
	})
	if err != nil {
		return fmt.Errorf("infer: compiling the model: %w", err)
	}
	p.exec = exec
	return nil
}

// Probabilities returns the per-class probabilities of a preprocessed volume: a volume with one
// channel per class and img's geometry.
func (p *Predictor) Probabilities(img *volume.Volume) (*volume.Volume, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	if img.Channels != p.Model.InChannels {
		return nil, fmt.Errorf("infer: image has %d channels, model expects %d", img.Channels, p.Model.InChannels)
	}
	if err := p.buildExec(); err != nil {
		return nil, err
	}
	overlap := p.Overlap
	if overlap == 0 {
		overlap = DefaultOverlap
	}
	if overlap < 0 || overlap >= 1 {
		return nil, fmt.Errorf("infer: overlap %g must be in [0, 1)", overlap)
	}
	sigma := p.SigmaScale
	if sigma == 0 {
		sigma = DefaultSigmaScale
	}
	bs := p.BatchSize
	if bs <= 0 {
		bs = DefaultBatchSize
	}
	C, K := img.Channels, p.Model.NumClasses
	size := [3]int{img.Shape[2], img.Shape[1], img.Shape[0]} // z, y, x
	// Padded grid: at least the patch along every axis.
	var pad [3]int
	for a := range 3 {
		pad[a] = max(size[a], p.Patch[a])
	}
	padN := pad[0] * pad[1] * pad[2]
	src := img.Data
	if pad != size {
		src = make([]float32, C*padN)
		for c := range C {
			for z := range size[0] {
				for y := range size[1] {
					copy(src[c*padN+(z*pad[1]+y)*pad[2]:][:size[2]], img.Data[c*img.NumVoxels()+(z*size[1]+y)*size[2]:][:size[2]])
				}
			}
		}
	}
	var tiles [][3]int
	for _, z := range TileStarts(pad[0], p.Patch[0], overlap) {
		for _, y := range TileStarts(pad[1], p.Patch[1], overlap) {
			for _, x := range TileStarts(pad[2], p.Patch[2], overlap) {
				tiles = append(tiles, [3]int{z, y, x})
			}
		}
	}
	gauss := GaussianMap(p.Patch, sigma)
	pz, py, px := p.Patch[0], p.Patch[1], p.Patch[2]
	tileN := pz * py * px
	acc := make([]float32, K*padN)
	wsum := make([]float32, padN)
	dims := []int{0, C}
	if p.Model.Dims == 2 {
		dims = append(dims, py, px)
	} else {
		dims = append(dims, pz, py, px)
	}
	for b0 := 0; b0 < len(tiles); b0 += bs {
		batch := tiles[b0:min(b0+bs, len(tiles))]
		nb := len(batch)
		in := make([]float32, nb*C*tileN)
		for i, t := range batch {
			for c := range C {
				for z := range pz {
					for y := range py {
						off := c*padN + ((t[0]+z)*pad[1]+t[1]+y)*pad[2] + t[2]
						copy(in[(i*C+c)*tileN+(z*py+y)*px:][:px], src[off:off+px])
					}
				}
			}
		}
		dims[0] = nb
		out, err := p.exec.Exec1(tensors.FromFlatDataAndDimensions(in, dims...))
		if err != nil {
			return nil, fmt.Errorf("infer: running the model: %w", err)
		}
		probs := tensors.MustCopyFlatData[float32](out)
		out.MustFinalizeAll()
		for i, t := range batch {
			for z := range pz {
				for y := range py {
					row := ((t[0]+z)*pad[1]+t[1]+y)*pad[2] + t[2]
					g := gauss[(z*py+y)*px:][:px]
					for x := range px {
						wsum[row+x] += g[x]
					}
					for k := range K {
						pr := probs[(i*K+k)*tileN+(z*py+y)*px:][:px]
						dst := acc[k*padN+row:][:px]
						for x := range px {
							dst[x] += pr[x] * g[x]
						}
					}
				}
			}
		}
		if p.Progress != nil {
			p.Progress(min(b0+bs, len(tiles)), len(tiles))
		}
	}
	res := &volume.Volume{Shape: img.Shape, Channels: K, Spacing: img.Spacing, Affine: img.Affine}
	n := img.NumVoxels()
	res.Data = make([]float32, K*n)
	for k := range K {
		for z := range size[0] {
			for y := range size[1] {
				srow := ((z*pad[1] + y) * pad[2])
				drow := (z*size[1] + y) * size[2]
				for x := range size[2] {
					res.Data[k*n+drow+x] = acc[k*padN+srow+x] / wsum[srow+x]
				}
			}
		}
	}
	return res, nil
}

// Argmax returns the label map (one channel) of per-class probabilities; labelValues maps class
// index to label value (nil: identity).
func Argmax(probs *volume.Volume, labelValues []int) *volume.Volume {
	n := probs.NumVoxels()
	out := &volume.Volume{Shape: probs.Shape, Channels: 1, Spacing: probs.Spacing, Affine: probs.Affine, Data: make([]float32, n)}
	for i := range n {
		best, bv := 0, probs.Data[i]
		for k := 1; k < probs.Channels; k++ {
			if v := probs.Data[k*n+i]; v > bv {
				best, bv = k, v
			}
		}
		if labelValues != nil {
			out.Data[i] = float32(labelValues[best])
		} else {
			out.Data[i] = float32(best)
		}
	}
	return out
}

// Segment returns the label map of a preprocessed volume.
func (p *Predictor) Segment(img *volume.Volume) (*volume.Volume, error) {
	probs, err := p.Probabilities(img)
	if err != nil {
		return nil, err
	}
	return Argmax(probs, p.LabelValues), nil
}

// OriginalProbabilities preprocesses an original image with steps, computes the class
// probabilities and maps them back to the image's geometry (one channel per class).
func (p *Predictor) OriginalProbabilities(img *volume.Volume, steps volume.Steps) (*volume.Volume, error) {
	prep, _, rec, err := volume.Prepare(img, nil, steps)
	if err != nil {
		return nil, fmt.Errorf("infer: preprocessing: %w", err)
	}
	probs, err := p.Probabilities(prep)
	if err != nil {
		return nil, err
	}
	orig, err := rec.ToOriginalProbs(probs)
	if err != nil {
		return nil, fmt.Errorf("infer: back to the original geometry: %w", err)
	}
	return orig, nil
}

// PredictCase preprocesses an original image with steps, segments it, maps the result back to
// the image's geometry (shape, spacing and affine of img) and applies p.Postprocessing.
func (p *Predictor) PredictCase(img *volume.Volume, steps volume.Steps) (*volume.Volume, error) {
	probs, err := p.OriginalProbabilities(img, steps)
	if err != nil {
		return nil, err
	}
	return p.Postprocessing.Apply(Argmax(probs, p.LabelValues)), nil
}

// PredictFile segments the NIfTI image at in and writes the label map (uint8, the input's affine)
// to out.
func (p *Predictor) PredictFile(in, out string, steps volume.Steps) error {
	return predictFile(in, out, func(img *volume.Volume) (*volume.Volume, error) { return p.PredictCase(img, steps) })
}

// predictFile reads the image at in, segments it with predict and writes the label map (uint8,
// the input's affine) to out.
func predictFile(in, out string, predict func(*volume.Volume) (*volume.Volume, error)) error {
	img, err := volume.Read(in)
	if err != nil {
		return err
	}
	lbl, err := predict(img)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	lbl.Affine, lbl.Spacing = img.Affine, img.Spacing
	return volume.Write(out, lbl, volume.Uint8)
}
