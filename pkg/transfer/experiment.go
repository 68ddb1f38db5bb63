package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/msdkit/msdkit/pkg/infer"
	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/preprocess"
	"github.com/msdkit/msdkit/pkg/sampler"
	"github.com/msdkit/msdkit/pkg/train"
)

// Experiment is a prepared transfer experiment: both sets planned with the shared topology,
// the target split and its preprocessed cases.
type Experiment struct {
	Config  Config
	Backend backends.Backend

	Source, Target                   *msd.Dataset
	SourceSynthetic, TargetSynthetic bool
	// SourcePlans and TargetPlans are the plans used (shared topology); the *NNUNet ones are what
	// plans.Make chose before the rewrite, for comparison.
	SourcePlans, TargetPlans             *plans.Plans
	SourcePlansNNUNet, TargetPlansNNUNet *plans.Plans

	TestIDs, PoolIDs []string
	SourceTrainIDs   []string
	SourceValIDs     []string

	target map[string]*preprocess.Case
	val    []*train.Batch
}

// Prepare opens both sets, plans them with the shared topology, splits the target set and
// preprocesses its test and pool cases (cached under cfg.OutDir/work).
func Prepare(be backends.Backend, cfg Config) (*Experiment, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Experiment{Config: cfg, Backend: be}
	var err error
	if e.Target, e.TargetSynthetic, err = OpenTarget(cfg.DataRoot); err != nil {
		return nil, err
	}
	if e.Source, e.SourceSynthetic, err = OpenSource(cfg.DataRoot); err != nil {
		return nil, err
	}
	if e.TestIDs, e.PoolIDs, err = SplitIDs(e.Target.IDs(), cfg.TestCases, cfg.MaxPool, cfg.SplitSeed); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, e.Target.Dir)
	}
	nVal := max(1, len(e.Source.Cases)/10)
	if cfg.SourceCases > 0 {
		nVal = max(1, min(nVal, cfg.SourceCases/4))
	}
	if e.SourceValIDs, e.SourceTrainIDs, err = SplitIDs(e.Source.IDs(), nVal, cfg.SourceCases, cfg.SplitSeed); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, e.Source.Dir)
	}
	if err := e.checkSplit(); err != nil {
		return nil, err
	}
	planDir := filepath.Join(cfg.OutDir, "plans")
	if e.SourcePlansNNUNet, e.SourcePlans, err = planSet(planDir, e.Source, append(slices.Clone(e.SourceTrainIDs), e.SourceValIDs...),
		cfg.Topology, cfg.Source, [3]float64{}, &cfg); err != nil {
		return nil, err
	}
	if e.TargetPlansNNUNet, e.TargetPlans, err = planSet(planDir, e.Target, append(slices.Clone(e.TestIDs), e.PoolIDs...),
		cfg.Topology, cfg.Target, cfg.TargetSpacing, &cfg); err != nil {
		return nil, err
	}
	e.logf("target %s (%d cases, synthetic %v): %d test cases %v, training pool %d; source %s (%d cases, synthetic %v)",
		e.Target.Name, len(e.Target.Cases), e.TargetSynthetic, len(e.TestIDs), e.TestIDs, len(e.PoolIDs),
		e.Source.Name, len(e.Source.Cases), e.SourceSynthetic)
	return e, nil
}

// checkSplit saves the split in OutDir/split.json, or checks that an existing one matches.
func (e *Experiment) checkSplit() error {
	if err := os.MkdirAll(e.Config.OutDir, 0o755); err != nil {
		return err
	}
	type split struct {
		Target string   `json:"target"`
		Test   []string `json:"test"`
		Pool   []string `json:"pool"`
	}
	cur := split{e.Target.Name, e.TestIDs, e.PoolIDs}
	path := filepath.Join(e.Config.OutDir, "split.json")
	if b, err := os.ReadFile(path); err == nil {
		var old split
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("transfer: %s: %w", path, err)
		}
		if old.Target != cur.Target || !slices.Equal(old.Test, cur.Test) || !slices.Equal(old.Pool, cur.Pool) {
			return fmt.Errorf("transfer: %s holds another split (target %s, test %v): use another OutDir", path, old.Target, old.Test)
		}
		return nil
	}
	return saveJSON(path, cur)
}

func (e *Experiment) logf(format string, args ...any) {
	if e.Config.Progress != nil {
		fmt.Fprintf(e.Config.Progress, format+"\n", args...)
	}
}

// TestCases returns the preprocessed held-out target cases.
func (e *Experiment) TestCases() ([]*preprocess.Case, error) {
	if err := e.loadTarget(); err != nil {
		return nil, err
	}
	out := make([]*preprocess.Case, len(e.TestIDs))
	for i, id := range e.TestIDs {
		out[i] = e.target[id]
	}
	return out, nil
}

func (e *Experiment) loadTarget() error {
	if e.target != nil {
		return nil
	}
	t0 := time.Now()
	cs, err := preprocessCases(filepath.Join(e.Config.OutDir, "work"), e.Target, e.TargetPlans,
		append(slices.Clone(e.TestIDs), e.PoolIDs...), &e.Config)
	if err != nil {
		return err
	}
	e.target = cs
	e.logf("preprocessed %d target cases at %.2f mm in %s", len(cs), e.TargetPlans.TargetSpacing, time.Since(t0).Round(time.Millisecond))
	// Fixed validation patches of the test cases (no augmentation, all on foreground): the curves.
	test := make([]*preprocess.Case, len(e.TestIDs))
	for i, id := range e.TestIDs {
		test[i] = cs[id]
	}
	e.val, err = train.ValBatches(test, e.Config.Target.Patch, e.Config.Target.BatchSize, e.Config.ValPatches, e.Config.SplitSeed+1)
	return err
}

// newRun builds a train.Run in dir on cases with the plan p.
func (e *Experiment) newRun(dir string, p *plans.Plans, cases []*preprocess.Case, b Budget, opts train.Options, val []*train.Batch) (*train.Run, error) {
	smp, err := train.CaseSampler(cases, sampler.Config{Patch: b.Patch, BatchSize: b.BatchSize, ForegroundFraction: 0.33,
		Augment: sampler.NNUNet(false)}, opts.Seed)
	if err != nil {
		return nil, err
	}
	opts.Steps, opts.BatchSize = b.Steps, b.BatchSize
	opts.Optimizer, opts.LearningRate, opts.ValEvery = b.Optimizer, b.LR, b.ValEvery
	opts.CheckpointEvery = max(b.ValEvery, b.Steps/4)
	opts.KeepCheckpoints = 1
	opts.Quiet = true
	info, err := train.PlanModelInfo(p, plans.Config3D, opts)
	if err != nil {
		return nil, err
	}
	run, err := train.New(e.Backend, dir, info, train.SamplerSource{S: smp})
	if err != nil {
		return nil, err
	}
	run.Val = val
	return run, nil
}

// PretrainDir returns the source model's run directory: Config.PretrainDir, else
// OutDir/pretrain (trained by Pretrain).
func (e *Experiment) PretrainDir() string {
	if e.Config.PretrainDir != "" {
		return e.Config.PretrainDir
	}
	return filepath.Join(e.Config.OutDir, "pretrain")
}

// Pretrain trains the source model with the shared topology (resuming or reusing a finished
// run), or checks that Config.PretrainDir has that topology. It returns the run directory.
func (e *Experiment) Pretrain() (string, error) {
	dir := e.PretrainDir()
	if e.Config.PretrainDir != "" {
		info, err := train.ReadModelInfo(dir)
		if err != nil {
			return "", err
		}
		return dir, e.checkTopology(dir, info)
	}
	ids := append(slices.Clone(e.SourceTrainIDs), e.SourceValIDs...)
	t0 := time.Now()
	cs, err := preprocessCases(filepath.Join(e.Config.OutDir, "work"), e.Source, e.SourcePlans, ids, &e.Config)
	if err != nil {
		return "", err
	}
	var trainCases, valCases []*preprocess.Case
	for _, id := range e.SourceTrainIDs {
		trainCases = append(trainCases, cs[id])
	}
	for _, id := range e.SourceValIDs {
		valCases = append(valCases, cs[id])
	}
	val, err := train.ValBatches(valCases, e.Config.Source.Patch, e.Config.Source.BatchSize, e.Config.ValPatches, e.Config.SplitSeed+1)
	if err != nil {
		return "", err
	}
	run, err := e.newRun(dir, e.SourcePlans, trainCases, e.Config.Source, train.Options{Seed: e.Config.SplitSeed}, val)
	if err != nil {
		return "", err
	}
	if run.ResumedStep() < e.Config.Source.Steps {
		e.logf("pretraining on %s: %d cases, %d steps (from step %d), batch %d, patch %v",
			e.Source.Name, len(trainCases), e.Config.Source.Steps, run.ResumedStep(), e.Config.Source.BatchSize, e.Config.Source.Patch)
		if err := e.trainLogged(run); err != nil {
			return "", err
		}
	}
	e.logf("pretrained model in %s (%s)", dir, time.Since(t0).Round(time.Second))
	return dir, nil
}

func (e *Experiment) checkTopology(dir string, info *train.ModelInfo) error {
	m, t := info.Model, e.Config.Topology
	if m.Dims != 3 || m.Levels != t.Levels || m.BaseFilters != t.BaseFilters || m.MaxFilters != t.MaxFilters || m.ConvsPerLevel != t.ConvsPerLevel {
		return fmt.Errorf("transfer: pretrained model %s has dims %d, levels %d, filters %d..%d, %d convs per level; the experiment's topology is %+v",
			dir, m.Dims, m.Levels, m.BaseFilters, m.MaxFilters, m.ConvsPerLevel, t)
	}
	return nil
}

// trainLogged trains run to its end in chunks, printing a line per chunk.
func (e *Experiment) trainLogged(run *train.Run) error {
	chunk := max(1, run.Opts.ValEvery)
	t0 := time.Now()
	for step := run.ResumedStep(); step < run.Opts.Steps; {
		step = min(step+chunk, run.Opts.Steps)
		if err := run.TrainUntil(step); err != nil {
			return err
		}
		if n := len(run.History); n > 0 {
			r := run.History[n-1]
			e.logf("  step %d/%d loss %.4f val Dice %.4f (%.2f s/step)", r.Step, run.Opts.Steps, r.Loss, r.MeanDice,
				time.Since(t0).Seconds()/float64(len(run.History)))
		}
	}
	return nil
}

// RunDir is the run directory of one (arm, N, seed).
func (e *Experiment) RunDir(arm string, n int, seed uint64) string {
	return filepath.Join(e.Config.OutDir, "runs", fmt.Sprintf("%s_n%s_s%d", arm, nName(n), seed))
}

func nName(n int) string {
	if n <= 0 {
		return "all"
	}
	return strconv.Itoa(n)
}

// RunAll pretrains (if needed) and runs every (N, seed, arm) missing from the results file,
// saving the results after each run. It returns the results, finished or loaded.
func (e *Experiment) RunAll() (*Results, error) {
	res, err := e.loadResults()
	if err != nil {
		return nil, err
	}
	pre := ""
	if slices.ContainsFunc(e.Config.Arms, func(a string) bool { return a != Scratch }) {
		if pre, err = e.Pretrain(); err != nil {
			return nil, err
		}
	}
	total, k := len(e.Config.Ns)*len(e.Config.Seeds)*len(e.Config.Arms), 0
	for _, n := range e.Config.Ns {
		for _, seed := range e.Config.Seeds {
			for _, arm := range e.Config.Arms {
				k++
				if res.Find(arm, n, seed) != nil {
					continue
				}
				row, err := e.RunOne(arm, n, seed, pre)
				if err != nil {
					return res, fmt.Errorf("transfer: %s N=%s seed %d: %w", arm, nName(n), seed, err)
				}
				res.Rows = append(res.Rows, row)
				if err := res.Save(e.Config.OutDir); err != nil {
					return res, err
				}
				e.logf("[%d/%d] %-8s N=%-3s seed %d: test Dice %.4f (%d cases, %.0f s)", k, total, arm, nName(n), seed, row.Dice, len(row.PerCase), row.Seconds)
			}
		}
	}
	return res, nil
}

// RunOne trains and scores one arm on the N cases of a seed.
func (e *Experiment) RunOne(arm string, n int, seed uint64, pretrained string) (Row, error) {
	if err := e.loadTarget(); err != nil {
		return Row{}, err
	}
	ids := TrainingCases(e.PoolIDs, n, seed)
	cases := make([]*preprocess.Case, len(ids))
	for i, id := range ids {
		cases[i] = e.target[id]
	}
	opts := train.Options{Seed: seed}
	switch arm {
	case Transfer:
		opts.Pretrained = pretrained
	case Frozen:
		opts.Pretrained, opts.FreezeEncoderSteps = pretrained, e.Config.FreezeSteps
	}
	if arm != Scratch && pretrained == "" {
		return Row{}, errors.New("no pretrained model")
	}
	dir := e.RunDir(arm, n, seed)
	t0 := time.Now()
	run, err := e.newRun(dir, e.TargetPlans, cases, e.Config.Target, opts, e.val)
	if err != nil {
		return Row{}, err
	}
	if err := e.trainLogged(run); err != nil {
		return Row{}, err
	}
	trainSec := time.Since(t0).Seconds()
	pred, err := infer.New(e.Backend, run.Ctx, run.Info.Model, run.Info.Patch)
	if err != nil {
		return Row{}, err
	}
	var labels []int
	for i := 1; i < len(e.TargetPlans.Labels); i++ {
		labels = append(labels, i)
	}
	test, err := e.TestCases()
	if err != nil {
		return Row{}, err
	}
	table, err := pred.EvaluateCases(test, metrics.Options{Labels: labels}, nil)
	if err != nil {
		return Row{}, err
	}
	if err := table.Save(filepath.Join(dir, "test.json")); err != nil {
		return Row{}, err
	}
	row := Row{Arm: arm, N: len(ids), NRequested: n, Seed: seed, Cases: ids, Dice: float64(table.MeanDice),
		Steps: e.Config.Target.Steps, TrainSeconds: trainSec, Seconds: time.Since(t0).Seconds(), Dir: dir}
	for _, c := range table.Cases {
		var s []float64
		for _, l := range c.Labels {
			s = append(s, float64(l.Dice))
		}
		row.PerCase = append(row.PerCase, mean(s))
	}
	if row.Curve, err = ReadCurve(dir); err != nil {
		return Row{}, err
	}
	return row, nil
}

// ReadCurve reads the (step, mean validation Dice) points of a run's metrics.csv.
func ReadCurve(dir string) ([]Point, error) {
	log, err := train.ReadLog(dir)
	if err != nil {
		return nil, err
	}
	var out []Point
	for _, r := range log {
		if r.ValDice != nil {
			out = append(out, Point{Step: r.Step, Dice: r.MeanDice})
		}
	}
	return out, nil
}

func (e *Experiment) loadResults() (*Results, error) {
	meta := Meta{Source: e.Source.Name, Target: e.Target.Name, SourceSynthetic: e.SourceSynthetic, TargetSynthetic: e.TargetSynthetic,
		Topology: e.Config.Topology, Budget: e.Config.Target, FreezeSteps: e.Config.FreezeSteps, TargetSpacing: e.TargetPlans.TargetSpacing,
		SourceSpacing: e.SourcePlans.TargetSpacing, TestIDs: e.TestIDs, PoolSize: len(e.PoolIDs), Backend: e.Config.BackendConfig}
	if e.Config.PretrainDir == "" {
		meta.SourceBudget = &e.Config.Source
	}
	res, err := LoadResults(e.Config.OutDir)
	if errors.Is(err, os.ErrNotExist) {
		return &Results{Meta: meta}, nil
	} else if err != nil {
		return nil, err
	}
	if err := res.Meta.compatible(meta); err != nil {
		return nil, fmt.Errorf("transfer: %s was made with another design (%v): use another OutDir", e.Config.OutDir, err)
	}
	res.Meta.Backend = meta.Backend
	return res, nil
}

var _ io.Writer = (*os.File)(nil)
