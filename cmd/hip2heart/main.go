// Command hip2heart runs the Hippocampus -> Heart transfer experiment (package transfer) with
// the full design, or a reduced one given by flags, and prints the table and the conclusion.
// Rerunning it with the same flags resumes: finished runs are skipped.
//
//	hip2heart -ns 1,2,4,8,0 -seeds 1,2,3 -steps 250 -patch 64,64,32 -out out/runs/h2h
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/msdkit/msdkit/pkg/backend"
	"github.com/msdkit/msdkit/pkg/transfer"
)

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("bad integer %q in %q", f, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// positive sets *dst to v when v > 0: numeric flags left at 0 keep the mode's value.
func positive[T int | float64](dst *T, v T) {
	if v > 0 {
		*dst = v
	}
}

// saveFigures writes dice_vs_n.png and curves_n<N>.png into dir.
func saveFigures(res *transfer.Results, dir string) error {
	png, err := res.DiceVsNFigure()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "dice_vs_n.png"), png, 0o644); err != nil {
		return err
	}
	for _, n := range res.Ns() {
		png, err := res.CurvesFigure(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("curves_n%d.png", n)), png, 0o644); err != nil {
			return err
		}
	}
	fmt.Println("figures in", dir)
	return nil
}

func main() {
	cfg := transfer.ForMode()
	ns := flag.String("ns", "", "numbers of labelled target cases, 0 = all (default: the mode's)")
	seeds := flag.String("seeds", "", "seeds (default: the mode's)")
	arms := flag.String("arms", "", "arms: scratch,transfer,frozen (default: all)")
	steps := flag.Int("steps", 0, "target steps per run")
	srcSteps := flag.Int("source-steps", 0, "pretraining steps")
	patch := flag.String("patch", "", "target patch x,y,z")
	srcPatch := flag.String("source-patch", "", "source patch x,y,z")
	batch := flag.Int("batch", 0, "target batch size")
	valEvery := flag.Int("val-every", 0, "target steps between validations")
	lr := flag.Float64("lr", 0, "target learning rate (Adam)")
	srcLR := flag.Float64("source-lr", 0, "pretraining learning rate (Adam)")
	srcBatch := flag.Int("source-batch", 0, "pretraining batch size")
	srcVal := flag.Int("source-val-every", 0, "pretraining steps between validations")
	test := flag.Int("test", 0, "held-out target cases")
	spacing := flag.Float64("spacing", 0, "target spacing in mm (isotropic)")
	base := flag.Int("base-filters", 0, "base filters of the shared topology")
	levels := flag.Int("levels", 0, "levels of the shared topology")
	pre := flag.String("pretrained", "", "existing Task04 run directory with the shared topology")
	out := flag.String("out", "", "experiment folder (default: the mode's under $MSD_RUNS)")
	data := flag.String("data", cfg.DataRoot, "MSD data root")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "hip2heart:", err)
		os.Exit(1)
	}
	var err error
	if *ns != "" {
		if cfg.Ns, err = ints(*ns); err != nil {
			fail(err)
		}
	}
	if *seeds != "" {
		v, err := ints(*seeds)
		if err != nil {
			fail(err)
		}
		cfg.Seeds = nil
		for _, s := range v {
			cfg.Seeds = append(cfg.Seeds, uint64(s))
		}
	}
	if *arms != "" {
		cfg.Arms = strings.Split(*arms, ",")
	}
	setPatch := func(s string, p *[3]int) {
		if s == "" {
			return
		}
		v, err := ints(s)
		if err != nil || len(v) != 3 {
			fail(fmt.Errorf("patch %q: want x,y,z", s))
		}
		copy(p[:], v)
	}
	setPatch(*patch, &cfg.Target.Patch)
	setPatch(*srcPatch, &cfg.Source.Patch)
	positive(&cfg.Target.Steps, *steps)
	positive(&cfg.Source.Steps, *srcSteps)
	positive(&cfg.Target.BatchSize, *batch)
	positive(&cfg.Target.ValEvery, *valEvery)
	positive(&cfg.Target.LR, *lr)
	positive(&cfg.Source.LR, *srcLR)
	positive(&cfg.Source.BatchSize, *srcBatch)
	positive(&cfg.Source.ValEvery, *srcVal)
	positive(&cfg.TestCases, *test)
	if *spacing > 0 {
		cfg.TargetSpacing = [3]float64{*spacing, *spacing, *spacing}
	}
	positive(&cfg.Topology.BaseFilters, *base)
	positive(&cfg.Topology.Levels, *levels)
	if *out != "" {
		cfg.OutDir = *out
	}
	cfg.PretrainDir, cfg.DataRoot, cfg.Progress = *pre, *data, os.Stdout
	be, choice, err := backend.New(os.Stdout)
	if err != nil {
		fail(err)
	}
	cfg.BackendConfig = choice.Config
	t0 := time.Now()
	e, err := transfer.Prepare(be, cfg)
	if err != nil {
		fail(err)
	}
	res, err := e.RunAll()
	if res != nil && len(res.Rows) > 0 {
		fmt.Print("\n", res.Markdown(), "\n", res.Conclusion())
		if ferr := saveFigures(res, cfg.OutDir); ferr != nil {
			fail(ferr)
		}
	}
	fmt.Printf("wall time %s\n", time.Since(t0).Round(time.Second))
	if err != nil {
		fail(err)
	}
}
