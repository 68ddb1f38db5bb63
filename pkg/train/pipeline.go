package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/gomlx/gomlx/backends"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/preprocess"
	"github.com/msdkit/msdkit/pkg/sampler"
	"github.com/msdkit/msdkit/pkg/unet"
)

// SamplerSource adapts a *sampler.Sampler (patches with nnU-Net augmentation) to a Stateful
// BatchSource.
type SamplerSource struct{ S *sampler.Sampler }

// Next implements BatchSource.
func (s SamplerSource) Next() (*Batch, error) {
	b, err := s.S.Next()
	if err != nil {
		return nil, err
	}
	return &Batch{Images: b.Images, Labels: b.Labels, Shape: b.Shape}, nil
}

// State implements Stateful.
func (s SamplerSource) State() ([]byte, error) { return s.S.State() }

// SetState implements Stateful.
func (s SamplerSource) SetState(b []byte) error { return s.S.SetState(b) }

// FromPlans returns the network and patch of a plan's configuration (plans.Config3D or
// plans.Config2D). The patch is in tensor order: (z, y, x), or (y, x) for 2D (slices along z).
// The network follows the plan's per-axis pooling and kernels (nnU-Net's pool_op_kernel_sizes and
// conv_kernel_sizes; left at the U-Net's defaults when they are 2 and 3 everywhere), with deep
// supervision on, as in nnU-Net, and the plan's precision.
func FromPlans(p *plans.Plans, config string) (unet.Config, []int, error) {
	c, ok := p.Configurations[config]
	if !ok {
		return unet.Config{}, nil, fmt.Errorf("train: plans of %s have no configuration %q", p.Dataset, config)
	}
	// Plans list axes as x, y, z; tensors are z, y, x.
	reversed := func(k [][]int, uniform int) [][]int {
		out, same := make([][]int, len(k)), true
		for i, ax := range k {
			out[i] = slices.Clone(ax)
			slices.Reverse(out[i])
			for _, v := range ax {
				same = same && v == uniform
			}
		}
		if same {
			return nil
		}
		return out
	}
	cfg := unet.Config{Dims: c.Dims, InChannels: len(p.Normalization), NumClasses: len(p.Labels),
		BaseFilters: c.BaseFilters, MaxFilters: c.MaxFilters, Levels: len(c.PoolKernels) + 1, ConvsPerLevel: c.ConvPerStage,
		PoolKernels: reversed(c.PoolKernels, 2), ConvKernels: reversed(c.ConvKernels, 3),
		DeepSupervision: true, Precision: p.Precision}
	var patch []int
	switch c.Dims {
	case 3:
		patch = []int{c.PatchSize[2], c.PatchSize[1], c.PatchSize[0]}
	case 2:
		if c.SliceAxis != nil && *c.SliceAxis != 2 {
			return unet.Config{}, nil, fmt.Errorf("train: 2D configuration slices along axis %d; only z slices are supported", *c.SliceAxis)
		}
		patch = []int{c.PatchSize[1], c.PatchSize[0]}
	default:
		return unet.Config{}, nil, fmt.Errorf("train: configuration %q has %d dims", config, c.Dims)
	}
	if err := cfg.Validate(); err != nil {
		return unet.Config{}, nil, err
	}
	return cfg, patch, cfg.CheckPatch(patch)
}

// Experiment is a training run on one fold of an MSD set, from its plans: preprocessing cache,
// nnU-Net patch sampler on the training cases, fixed validation patches, and the Run.
type Experiment struct {
	Plans     *plans.Plans
	Dataset   *msd.Dataset // the set, as opened from the data root
	Config    string
	Fold      msd.Fold
	Run       *Run
	Sampler   *sampler.Sampler
	Cache     *preprocess.Cache
	ValCases  []*preprocess.Case
	TrainIDs  []string
	Progress  io.Writer
	ModelInfo ModelInfo
}

// ExperimentConfig configures NewExperiment.
type ExperimentConfig struct {
	DataRoot   string // MSD data root (msd.DataRoot())
	WorkRoot   string // where the preprocessing cache and splits go (default DataRoot)
	Task       string // e.g. "Task04_Hippocampus"
	Plans      *plans.Plans
	Config     string    // plans.Config3D (default) or plans.Config2D
	Fold       int       // cross-validation fold (5 folds, splits saved next to the data)
	Dir        string    // run directory
	Options    Options   // training options; BatchSize 0 takes the plan's
	MaxCases   int       // use at most this many training and validation cases (0: all)
	ValPatches int       // validation batches of patches (default 4)
	Progress   io.Writer // progress lines (nil: silent)
}

// NewExperiment preprocesses (or reuses the cache of) the set, builds the sampler and the run.
func NewExperiment(backend backends.Backend, ec ExperimentConfig) (*Experiment, error) {
	if ec.Config == "" {
		ec.Config = plans.Config3D
	}
	if ec.ValPatches == 0 {
		ec.ValPatches = 4
	}
	if _, _, err := FromPlans(ec.Plans, ec.Config); err != nil {
		return nil, err
	}
	ds, err := msd.Open(ec.DataRoot, ec.Task)
	if err != nil {
		return nil, err
	}
	if ec.WorkRoot == "" {
		ec.WorkRoot = ec.DataRoot
	}
	if err := os.MkdirAll(filepath.Join(ec.WorkRoot, "splits"), 0o755); err != nil {
		return nil, err
	}
	folds, err := msd.Splits(filepath.Join(ec.WorkRoot, "splits", ec.Task+"_splits_final.json"), ds.IDs(), 0, 12345)
	if err != nil {
		return nil, err
	}
	if ec.Fold < 0 || ec.Fold >= len(folds) {
		return nil, fmt.Errorf("train: fold %d outside [0, %d)", ec.Fold, len(folds))
	}
	fold := folds[ec.Fold]
	trainIDs, valIDs := fold.Train, fold.Val
	if ec.MaxCases > 0 {
		trainIDs = trainIDs[:min(ec.MaxCases, len(trainIDs))]
		valIDs = valIDs[:min(max(1, ec.MaxCases/4), len(valIDs))]
	}
	all := append(append([]string{}, trainIDs...), valIDs...)
	cases, err := ds.Subset(all)
	if err != nil {
		return nil, err
	}
	in := fingerprint.FromDataset(ds)
	in.Cases = nil
	for _, c := range cases {
		in.Cases = append(in.Cases, fingerprint.Case{ID: c.ID, Image: c.Image, Label: c.Label})
	}
	cache, _, err := preprocess.Build(preprocess.Dir(ec.WorkRoot, ec.Plans), ec.Plans, in.Cases, preprocess.Options{Progress: ec.Progress})
	if err != nil {
		return nil, err
	}
	load := func(ids []string) ([]*preprocess.Case, error) {
		out := make([]*preprocess.Case, 0, len(ids))
		for _, id := range ids {
			c, err := cache.Load(id)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	trainCases, err := load(trainIDs)
	if err != nil {
		return nil, err
	}
	valCases, err := load(valIDs)
	if err != nil {
		return nil, err
	}
	info, err := PlanModelInfo(ec.Plans, ec.Config, ec.Options)
	if err != nil {
		return nil, err
	}
	opts := info.Options
	xyz := SamplerPatch(info.Patch)
	seed := opts.Defaults().Seed
	smp, err := CaseSampler(trainCases, sampler.Config{Patch: xyz, BatchSize: opts.BatchSize,
		ForegroundFraction: 0.33, Augment: sampler.NNUNet(info.Model.Dims == 2)}, seed)
	if err != nil {
		return nil, err
	}
	val, err := ValBatches(valCases, xyz, opts.BatchSize, ec.ValPatches, seed+1)
	if err != nil {
		return nil, err
	}
	run, err := New(backend, ec.Dir, info, SamplerSource{smp})
	if err != nil {
		return nil, err
	}
	run.Val = val
	if err := os.WriteFile(filepath.Join(ec.Dir, "fold.json"), mustJSON(map[string]any{"task": ec.Task, "fold": ec.Fold, "train": trainIDs, "val": valIDs}), 0o644); err != nil {
		return nil, err
	}
	slices.Sort(trainIDs)
	return &Experiment{Plans: ec.Plans, Dataset: ds, Config: ec.Config, Fold: fold, Run: run, Sampler: smp, Cache: cache,
		ValCases: valCases, TrainIDs: trainIDs, Progress: ec.Progress, ModelInfo: info}, nil
}

// PlanModelInfo returns the ModelInfo of a run on configuration config of plan p: the network and
// patch (FromPlans), opts with the patch and, when opts.BatchSize is 0, the plan's batch size, the
// label names, the preprocessing steps and the plan itself (everything inference needs).
func PlanModelInfo(p *plans.Plans, config string, opts Options) (ModelInfo, error) {
	cfg, patch, err := FromPlans(p, config)
	if err != nil {
		return ModelInfo{}, err
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = p.Configurations[config].BatchSize
	}
	opts.Patch = patch
	plansJSON, err := p.JSON()
	if err != nil {
		return ModelInfo{}, err
	}
	steps, err := json.Marshal(p.PreprocessSteps())
	if err != nil {
		return ModelInfo{}, err
	}
	labels := map[string]string{}
	for i, l := range p.Labels {
		labels[strconv.Itoa(i)] = p.LabelNames[l]
	}
	return ModelInfo{Model: cfg, Patch: patch, Options: opts, Labels: labels, Preprocessing: steps, Plans: plansJSON}, nil
}

// SamplerPatch turns a model patch in tensor order ((z, y, x), or (y, x) for 2D) into the
// sampler's (x, y, z), with z = 1 for 2D.
func SamplerPatch(patch []int) [3]int {
	xyz := [3]int{1, 1, 1}
	for i, p := range patch {
		xyz[len(patch)-1-i] = p
	}
	return xyz
}

// CaseSampler returns a patch sampler over preprocessed cases.
func CaseSampler(cases []*preprocess.Case, sc sampler.Config, seed uint64) (*sampler.Sampler, error) {
	scs := make([]sampler.Case, len(cases))
	for i, c := range cases {
		scs[i] = sampler.Case{ID: c.ID, Image: c.Image, Label: c.Label}
	}
	return sampler.New(scs, sc, seed)
}

// ValBatches draws n fixed validation batches from cases (none without cases): patches of size
// patch (x, y, z), no augmentation, every patch centred on foreground.
func ValBatches(cases []*preprocess.Case, patch [3]int, batch, n int, seed uint64) ([]*Batch, error) {
	if len(cases) == 0 {
		return nil, nil
	}
	vs, err := CaseSampler(cases, sampler.Config{Patch: patch, BatchSize: batch, ForegroundFraction: 1}, seed)
	if err != nil {
		return nil, err
	}
	var val []*Batch
	for range n {
		b, err := SamplerSource{vs}.Next()
		if err != nil {
			return nil, err
		}
		val = append(val, b)
	}
	return val, nil
}

func mustJSON(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return append(b, '\n')
}
