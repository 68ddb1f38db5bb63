// Package baseline holds the steps every notebooks/BaseLines notebook shares, so that the eleven
// task notebooks are thin and identical in structure: Open the set, show its Summary and a
// slice, Plan, Train with live curves, Validate in the original geometry, draw Pictures of the
// best and worst validation cases, and say where the model was saved.
//
// # Where the data come from
//
// Open looks for the task's MSD folder under the data root (msd.DataRoot: $MSD_DATA, else
// <repo>/data). Task02_Heart has a documented fallback: when the MSD set is absent, the
// LA2018_LeftAtrium folder in the same root (left atrium in LGE-MRI, 2018 Atrial Segmentation
// Challenge, MSD layout) stands in for it: same structure, modality and labels. When no real set
// is found, fast mode (MSD_FAST=1) generates phantoms of the task's shape, channels, labels and
// intensity range (package phantom); otherwise Open fails with how to download the set.
//
// # Where results go
//
// Everything written (phantoms, splits, preprocessing cache, fingerprint, plans, runs) goes under
// Work(): $MSD_RUNS/<set>, default <repo>/out/runs/<set>; never under notebooks/ nor into the
// data root. The run directory is Work()/run-fast or Work()/run-full.
//
// # Fast mode
//
// Fast mode (MSD_FAST=1, the test suite) makes one notebook run in about a minute on two CPU
// cores: the fingerprint reads at most FastFingerprintCases cases, the plan is made for a
// coarser grid when the median case exceeds FastVoxels voxels (every case spacing times f and
// shape divided by f, f = cbrt(voxels/FastVoxels), i.e. nnU-Net's plan for data resampled f
// times coarser), for the budget FastBudget with FastBaseFilters filters; training uses
// FastCases training cases (and FastCases/4 validation cases) for FastSteps steps, starting
// afresh each time. Full mode uses the whole set, the plan for the backend's memory budget
// (backend.MemoryBudget) and the training defaults (train.Options.Defaults: 1000 steps, SGD,
// poly schedule), and resumes an interrupted run. On a CPU backend compute, not memory, is what
// limits training, so full mode there plans for CPUBudget with CPUBaseFilters filters and trains
// with batch CPUBatch (nnU-Net's topology at a quarter of its cost per step). MSD_STEPS sets the
// number of training steps in either mode.
package baseline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/phantom"
)

// EnvRuns names the environment variable holding the folder for baseline outputs.
const EnvRuns = "MSD_RUNS"

// EnvSteps names the environment variable that overrides the number of training steps.
const EnvSteps = "MSD_STEPS"

// Full-mode settings on CPU backends (see the package documentation).
const (
	CPUBudget      = "CPU RAM 4 GB"
	CPUBaseFilters = 16
	CPUBatch       = 2
)

// HeartFallback is the set used for Task02_Heart when the MSD set is absent from the data root.
const HeartFallback = "LA2018_LeftAtrium"

// Fast-mode sizes (see the package documentation).
const (
	FastCases            = 8
	FastPhantoms         = 10
	FastFingerprintCases = 12
	FastSteps            = 60
	FastVoxels           = 48 * 48 * 48
	FastBudget           = "CPU RAM 0.1 GB"
	FastBaseFilters      = 8
)

// Out is where the steps print (stdout: notebooks treat stderr output as a failure).
var Out io.Writer = os.Stdout

// Set is the data a baseline notebook works on.
type Set struct {
	// Task is the MSD task the notebook is about.
	Task msd.Task
	// Name is the folder name of the set used: the task, HeartFallback, or a phantom set.
	Name string
	// Root is the folder holding Name (a data root for train.ExperimentConfig).
	Root string
	// Dataset is the opened set.
	Dataset *msd.Dataset
	// Synthetic is true for generated phantoms.
	Synthetic bool
	// Source says in words where the data come from.
	Source string
}

// RunsRoot returns $MSD_RUNS, else <repo>/out/runs (the module holding the working directory),
// else ./out/runs.
func RunsRoot() string {
	if d := os.Getenv(EnvRuns); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return filepath.Join("out", "runs")
	}
	for dir := wd; ; {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return filepath.Join(dir, "out", "runs")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join(wd, "out", "runs")
		}
		dir = parent
	}
}

// Fast reports fast mode (MSD_FAST=1).
func Fast() bool { return msd.FastMode() }

// Open finds the task's data under msd.DataRoot() (see the package documentation for the rule)
// and prints where it comes from.
func Open(task string) (*Set, error) { return OpenIn(msd.DataRoot(), task) }

// Reopen is Open without the message: for later notebook cells (GoNB runs each cell as a new
// program, so every cell opens the set again; this is cheap).
func Reopen(task string) (*Set, error) {
	out := Out
	Out = io.Discard
	defer func() { Out = out }()
	return OpenIn(msd.DataRoot(), task)
}

// OpenIn is Open with an explicit data root.
func OpenIn(root, task string) (*Set, error) {
	t, err := msd.Lookup(task)
	if err != nil {
		return nil, err
	}
	candidates := []string{t.Name}
	if t.Name == "Task02_Heart" {
		candidates = append(candidates, HeartFallback)
	}
	for _, name := range candidates {
		dir := filepath.Join(root, name)
		if _, err := os.Stat(filepath.Join(dir, "dataset.json")); err != nil {
			continue
		}
		ds, err := msd.OpenDir(dir)
		if err != nil {
			return nil, err
		}
		s := &Set{Task: t, Name: name, Root: root, Dataset: ds, Source: "real data in " + dir}
		if name != t.Name {
			s.Source = fmt.Sprintf("real data in %s (%s is not under %s; %s stands in for it)", dir, t.Name, root, name)
		}
		fmt.Fprintf(Out, "%s: %s, %d labelled cases\n", t.Name, s.Source, len(ds.Cases))
		return s, nil
	}
	how := fmt.Sprintf("download it with notebooks/data/Download_Sets.ipynb or `go run ./cmd/msdkit download -task %s`, "+
		"or set MSD_DATA to a folder holding it", t.Name)
	if !msd.FastMode() {
		return nil, fmt.Errorf("baseline: %s is not under the data root %s: %s (MSD_FAST=1 runs on generated phantoms instead)", t.Name, root, how)
	}
	// Phantoms are written under the runs folder, never into the data root.
	ds, _, err := phantom.Open(RunsRoot(), t.Name, FastPhantoms) // writes RunsRoot()/phantoms/<task>-n<N>
	if err != nil {
		return nil, err
	}
	s := &Set{Task: t, Name: filepath.Base(ds.Dir), Root: filepath.Dir(ds.Dir), Dataset: ds, Synthetic: true,
		Source: "generated phantoms in " + ds.Dir}
	fmt.Fprintf(Out, "%s is not under the data root %s: %s.\nFast mode: using %d %s.\n", t.Name, root, how, len(ds.Cases), s.Source)
	return s, nil
}

// Work returns the folder for everything derived from the set: $MSD_RUNS/<set name>.
func (s *Set) Work() string { return filepath.Join(RunsRoot(), s.Name) }

// RunDir returns the run directory of the current mode.
func (s *Set) RunDir() string {
	if Fast() {
		return filepath.Join(s.Work(), "run-fast")
	}
	return filepath.Join(s.Work(), "run-full")
}

// LabelNames maps label values to names (background left out).
func (s *Set) LabelNames() map[int]string {
	m := map[int]string{}
	for i, n := range s.Dataset.Labels {
		if i > 0 {
			m[i] = n
		}
	}
	return m
}
