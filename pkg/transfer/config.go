package transfer

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/msdkit/msdkit/pkg/baseline"
	"github.com/msdkit/msdkit/pkg/msd"
)

// Arm names.
const (
	Scratch  = "scratch"
	Transfer = "transfer"
	Frozen   = "frozen"
)

// SourceTask is the pretraining set.
const SourceTask = "Task04_Hippocampus"

// TargetTask is the target set (LA2018_LeftAtrium stands in for it, see OpenTarget).
const TargetTask = "Task02_Heart"

// Topology is the network shape both sets' plans are rewritten to, so that weights transfer.
type Topology struct {
	Levels        int `json:"levels"`
	BaseFilters   int `json:"base_filters"`
	MaxFilters    int `json:"max_filters"`
	ConvsPerLevel int `json:"convs_per_level"`
}

// Budget is the compute of one run: identical for every arm.
type Budget struct {
	Steps     int     `json:"steps"`
	BatchSize int     `json:"batch_size"`
	Patch     [3]int  `json:"patch_xyz"` // x, y, z voxels
	LR        float64 `json:"learning_rate"`
	Optimizer string  `json:"optimizer"`
	ValEvery  int     `json:"val_every"`
}

// Config configures an experiment. Zero fields take the defaults of Default (full design) or
// Fast (MSD_FAST=1).
type Config struct {
	DataRoot string // MSD data root (msd.DataRoot())
	OutDir   string // experiment folder: runs, results, plans, preprocessing cache

	Ns    []int    // numbers of labelled target cases; 0 means all of the training pool
	Seeds []uint64 // at least 3 for the real design
	Arms  []string // subset of Scratch, Transfer, Frozen

	Topology      Topology
	Target        Budget     // every target run (all arms)
	FreezeSteps   int        // encoder frozen steps of the Frozen arm (default Target.Steps/4)
	TargetSpacing [3]float64 // target-set spacing in mm (x, y, z); zero: 2 mm isotropic
	TestCases     int        // held-out target cases
	MaxPool       int        // cap on the target training pool (0: all remaining cases)
	ValPatches    int        // validation batches of test-case patches for the curves

	// Source pretraining (ignored when PretrainDir is set).
	PretrainDir   string // existing run dir of a Task04 model with Topology (optional)
	Source        Budget
	SourceCases   int // cap on hippocampus training cases (0: all)
	SplitSeed     uint64
	Progress      io.Writer // progress lines (nil: silent)
	BackendConfig string    // informative: recorded in the results
}

// RunsRoot is where experiments write: baseline.RunsRoot ($MSD_RUNS, else <repo>/out/runs).
func RunsRoot() string { return baseline.RunsRoot() }

// Default is the real design: N in {1, 2, 4, 8, all}, 3 seeds, three arms, 8 held-out cases.
// The budget is sized for one CPU core (about 25 minutes for the whole table with the fastcpu
// backend): a 3-level U-Net (8-16-32 filters), the atrium resampled to 2 mm (nnU-Net's Task02
// plan uses 1.25 mm; 0.625 mm is the LA2018 voxel), 100 Adam steps of 2 patches of 32x32x16
// voxels per run, 300 pretraining steps. Raise Steps, TargetSpacing and Topology on a GPU.
func Default() Config {
	return Config{
		DataRoot: msd.DataRoot(),
		OutDir:   filepath.Join(RunsRoot(), "hippocampus_to_heart"),
		Ns:       []int{1, 2, 4, 8, 0},
		Seeds:    []uint64{1, 2, 3},
		Arms:     []string{Scratch, Transfer, Frozen},
		Topology: Topology{Levels: 3, BaseFilters: 8, MaxFilters: 64, ConvsPerLevel: 2},
		Target: Budget{Steps: 100, BatchSize: 2, Patch: [3]int{32, 32, 16}, LR: 1e-3, Optimizer: "adam",
			ValEvery: 20},
		TargetSpacing: [3]float64{2, 2, 2},
		TestCases:     8,
		ValPatches:    2,
		Source: Budget{Steps: 300, BatchSize: 2, Patch: [3]int{32, 48, 32}, LR: 1e-3, Optimizer: "adam",
			ValEvery: 50},
		SplitSeed: msd.DefaultSeed,
	}
}

// Fast is a tiny version for tests and the notebooks' fast mode (about a minute on 2 cores).
func Fast() Config {
	c := Default()
	c.OutDir = filepath.Join(RunsRoot(), "hippocampus_to_heart_fast")
	c.Ns = []int{1, 2}
	c.Seeds = []uint64{1, 2}
	c.Topology = Topology{Levels: 3, BaseFilters: 4, MaxFilters: 16, ConvsPerLevel: 1}
	c.Target = Budget{Steps: 6, BatchSize: 2, Patch: [3]int{32, 32, 16}, LR: 1e-3, Optimizer: "adam", ValEvery: 2}
	c.TargetSpacing = [3]float64{2.5, 2.5, 2.5}
	c.TestCases = 2
	c.MaxPool = 2
	c.ValPatches = 1
	c.Source = Budget{Steps: 6, BatchSize: 2, Patch: [3]int{32, 32, 32}, LR: 1e-3, Optimizer: "adam", ValEvery: 3}
	c.SourceCases = 6
	return c
}

// ForMode returns Fast() under MSD_FAST=1, else Default().
func ForMode() Config {
	if msd.FastMode() {
		return Fast()
	}
	return Default()
}

func (c *Config) validate() error {
	if c.DataRoot == "" || c.OutDir == "" {
		return fmt.Errorf("transfer: DataRoot and OutDir are required")
	}
	if len(c.Ns) == 0 || len(c.Seeds) == 0 || len(c.Arms) == 0 {
		return fmt.Errorf("transfer: need at least one N, seed and arm (got %v, %v, %v)", c.Ns, c.Seeds, c.Arms)
	}
	for _, a := range c.Arms {
		if a != Scratch && a != Transfer && a != Frozen {
			return fmt.Errorf("transfer: unknown arm %q (want %s, %s or %s)", a, Scratch, Transfer, Frozen)
		}
	}
	for _, n := range c.Ns {
		if n < 0 {
			return fmt.Errorf("transfer: N=%d, want >= 1 or 0 for all", n)
		}
	}
	t := c.Topology
	if t.Levels < 1 || t.BaseFilters < 1 || t.MaxFilters < t.BaseFilters || t.ConvsPerLevel < 1 {
		return fmt.Errorf("transfer: bad topology %+v", t)
	}
	for name, b := range map[string]Budget{"target": c.Target, "source": c.Source} {
		if b.Steps < 1 || b.BatchSize < 1 {
			return fmt.Errorf("transfer: %s budget needs steps and batch >= 1 (got %+v)", name, b)
		}
		d := 1 << (t.Levels - 1)
		for a, p := range b.Patch {
			if p < d || p%d != 0 {
				return fmt.Errorf("transfer: %s patch %v: axis %d must be a positive multiple of 2^(levels-1)=%d", name, b.Patch, a, d)
			}
		}
	}
	if c.TestCases < 1 {
		return fmt.Errorf("transfer: TestCases=%d, want >= 1", c.TestCases)
	}
	if c.FreezeSteps == 0 {
		c.FreezeSteps = max(1, c.Target.Steps/4)
	}
	if c.TargetSpacing == ([3]float64{}) {
		c.TargetSpacing = [3]float64{2, 2, 2}
	}
	if c.ValPatches == 0 {
		c.ValPatches = 2
	}
	return nil
}
