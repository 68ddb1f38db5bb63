// Command msdkit runs the segmentation pipeline from the command line:
//
//	msdkit download -task Task04_Hippocampus
//	msdkit plan     -task Task04_Hippocampus -o plans.json
//	msdkit train    -task Task04_Hippocampus -plans plans.json -fold 0 -out runs/t04 -steps 1000
//	msdkit predict  -model runs/t04 -in imagesTs -out predictions
//	msdkit evaluate -pred predictions -ref labelsTs -o scores.csv
//
// Data come from -data (default: $MSD_DATA, else <repo>/data); the backend from -backend (default:
// $MSDKIT_BACKEND/$GOMLX_BACKEND, else the best available, see package backend).
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msdkit/msdkit/pkg/backend"
	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/infer"
	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/train"
	"github.com/msdkit/msdkit/pkg/volume"
)

const usage = `usage: msdkit <command> [flags]

commands:
  download  fetch MSD tasks into the data root (resumable, md5-checked)
  plan      fingerprint a task and write its plans JSON
  train     train a U-Net on one fold of a task
  predict   segment every .nii/.nii.gz file of a folder with a trained model
  evaluate  score a folder of predictions against a folder of references

run "msdkit <command> -h" for the flags of a command
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "download":
		err = downloadCmd(os.Args[2:])
	case "plan":
		err = planCmd(os.Args[2:])
	case "train":
		err = trainCmd(os.Args[2:])
	case "predict":
		err = predictCmd(os.Args[2:])
	case "evaluate":
		err = evaluateCmd(os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "msdkit: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "msdkit:", err)
		os.Exit(1)
	}
}

func planCmd(args []string) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	task := fs.String("task", "", "task name, e.g. Task04_Hippocampus (required)")
	data := fs.String("data", msd.DataRoot(), "MSD data root")
	budget := fs.String("budget", "", `memory budget, e.g. "GPU 8 GB" (default) or "CPU RAM 4 GB"`)
	base := fs.Int("base-filters", 0, "filters of the first level (default 32)")
	precision := fs.String("precision", "", "training precision the memory estimate counts: bf16 (mixed) or float32 (default: bf16 for GPU budgets, float32 for CPU ones)")
	out := fs.String("o", "plans.json", "output plans file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *task == "" {
		return fmt.Errorf("plan: -task is required")
	}
	ds, err := msd.Open(*data, *task)
	if err != nil {
		return err
	}
	fp, err := fingerprint.Compute(fingerprint.FromDataset(ds), fingerprint.Options{Progress: os.Stderr})
	if err != nil {
		return err
	}
	p, err := plans.Make(fp, plans.Options{Budget: *budget, BaseFilters: *base, Precision: *precision})
	if err != nil {
		return err
	}
	if err := p.Save(*out); err != nil {
		return err
	}
	for _, name := range []string{plans.Config3D, plans.Config2D} {
		if c, ok := p.Configurations[name]; ok {
			fmt.Printf("%s: patch %v (x,y,z), batch %d, filters %v, %s\n", name, c.PatchSize, c.BatchSize, c.Filters, p.Precision)
		}
	}
	fmt.Println("wrote", *out)
	return nil
}

func trainCmd(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	task := fs.String("task", "", "task name (required)")
	plansPath := fs.String("plans", "", "plans JSON from 'msdkit plan' (required)")
	config := fs.String("config", plans.Config3D, "plans configuration: 3d_fullres or 2d")
	fold := fs.Int("fold", 0, "cross-validation fold (0-4)")
	out := fs.String("out", "", "run directory (required); an existing run is resumed")
	data := fs.String("data", msd.DataRoot(), "MSD data root")
	work := fs.String("work", "", "folder for the preprocessing cache and splits (default: the data root)")
	steps := fs.Int("steps", 1000, "training steps")
	maxCases := fs.Int("max-cases", 0, "use at most this many training cases (0: all)")
	opt := fs.String("optimizer", "sgd", "sgd (Nesterov, nnU-Net), adam or adamw")
	lr := fs.Float64("lr", 0, "initial learning rate (default: 0.01 for sgd, 3e-4 for adam)")
	schedule := fs.String("schedule", "poly", "learning rate schedule: poly, cosine or constant")
	batch := fs.Int("batch", 0, "batch size (default: the plan's)")
	baseFilters := fs.Int("base-filters", 0, "override the plan's first-level filters")
	patch := fs.String("patch", "", "override the plan's patch size, comma-separated in the plan's axis order (x,y,z for 3d_fullres), e.g. 32,48,32")
	precision := fs.String("precision", "", "override the plan's precision: bf16 (mixed, XLA only) or float32")
	valEvery := fs.Int("val-every", 250, "steps between validations on fixed patches")
	ckptEvery := fs.Int("checkpoint-every", 250, "steps between checkpoints")
	pretrained := fs.String("pretrained", "", "run directory to initialise from (all but the segmentation head)")
	freeze := fs.Int("freeze-encoder", 0, "keep the encoder frozen for this many steps")
	finalEval := fs.Bool("eval", true, "after training, segment the validation cases in their original geometry (RUN/predictions) and score them")
	mirror := fs.Bool("mirror", false, "mirroring test-time augmentation in the final evaluation")
	backendFlag := fs.String("backend", "", "GoMLX backend (default: automatic)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the training steps to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *task == "" || *plansPath == "" || *out == "" {
		return fmt.Errorf("train: -task, -plans and -out are required")
	}
	p, err := plans.Load(*plansPath)
	if err != nil {
		return err
	}
	if *baseFilters > 0 || *patch != "" {
		c, ok := p.Configurations[*config]
		if !ok {
			return fmt.Errorf("train: %s has no configuration %q", *plansPath, *config)
		}
		if *baseFilters > 0 {
			c.BaseFilters = *baseFilters
		}
		if *patch != "" {
			if c.PatchSize, err = parseInts(*patch); err != nil {
				return fmt.Errorf("train: -patch: %w", err)
			}
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("train: -base-filters/-patch: %w", err)
		}
	}
	if *precision != "" {
		p.Precision = *precision
		if err := p.Validate(); err != nil {
			return fmt.Errorf("train: -precision: %w", err)
		}
	}
	be, _, err := backend.NewWith(os.Stderr, *backendFlag)
	if err != nil {
		return err
	}
	exp, err := train.NewExperiment(be, train.ExperimentConfig{
		DataRoot: *data, WorkRoot: *work, Task: *task, Plans: p, Config: *config, Fold: *fold, Dir: *out,
		MaxCases: *maxCases, Progress: os.Stderr,
		Options: train.Options{Steps: *steps, BatchSize: *batch, Optimizer: *opt, LearningRate: *lr, Schedule: *schedule,
			ValEvery: *valEvery, CheckpointEvery: *ckptEvery, Pretrained: *pretrained, FreezeEncoderSteps: *freeze, Quiet: *quiet},
	})
	if err != nil {
		return err
	}
	run := exp.Run
	fmt.Printf("training %s fold %d: %d training cases, %d validation cases, model %+v, patch %v, batch %d, %d steps (resuming at %d)\n",
		*task, *fold, len(exp.TrainIDs), len(exp.ValCases), run.Info.Model, run.Info.Patch, run.Opts.BatchSize, run.Opts.Steps, run.ResumedStep())
	start := time.Now()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("train: -cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("train: -cpuprofile: %w", err)
		}
	}
	err = run.Train()
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	n := len(run.History)
	el := time.Since(start)
	if n > 0 {
		fmt.Printf("trained %d steps in %s (%.3f s/step)\n", n, el.Round(time.Second), el.Seconds()/float64(n))
	}
	if !*finalEval || len(exp.ValCases) == 0 {
		return nil
	}
	pred, _, err := infer.Load(be, *out)
	if err != nil {
		return err
	}
	pred.Mirror = *mirror
	opts := metrics.Options{Names: map[int]string{}}
	for _, l := range p.Labels[1:] {
		opts.Labels = append(opts.Labels, l)
		opts.Names[l] = p.LabelNames[l]
	}
	var valIDs []string
	for _, c := range exp.ValCases {
		valIDs = append(valIDs, c.ID)
	}
	cases, err := exp.Dataset.Subset(valIDs)
	if err != nil {
		return err
	}
	t0 := time.Now()
	table, err := pred.ValidateCases(cases, opts, filepath.Join(*out, infer.PredictionsDir), func(done, total int, _ metrics.CaseResult, _ time.Duration) {
		if !*quiet {
			fmt.Fprintf(os.Stderr, "\rvalidation %d/%d", done, total)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr)
	for _, ext := range []string{".csv", ".json"} {
		if err := table.Save(filepath.Join(*out, "validation"+ext)); err != nil {
			return err
		}
	}
	printMeans(table)
	fmt.Printf("validation of %d cases took %s\n", len(exp.ValCases), time.Since(t0).Round(time.Second))
	return nil
}

// parseInts parses a comma-separated list of integers such as "32,48,32".
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("bad integer %q in %q: want a comma-separated list of integers", f, s)
		}
		out = append(out, v)
	}
	return out, nil
}

func printMeans(t metrics.Table) {
	for _, m := range t.Mean {
		fmt.Printf("label %d %-12s Dice %.4f (n=%d)  HD95 %.2f mm (n=%d)\n", m.Label, m.Name, float64(m.Dice), m.NDice, float64(m.HD95), m.NHD95)
	}
	fmt.Printf("mean Dice %.4f\n", float64(t.MeanDice))
}

// niftiFiles lists the .nii and .nii.gz files of a folder (skipping "._" junk), sorted.
func niftiFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, "._") || !(strings.HasSuffix(n, ".nii.gz") || strings.HasSuffix(n, ".nii")) {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no .nii or .nii.gz files in %s", dir)
	}
	return out, nil
}

func predictCmd(args []string) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	model := fs.String("model", "", "run directory of a trained model (required); several, comma-separated (e.g. the 5 folds), predict as an ensemble")
	in := fs.String("in", "", "folder of input images (required)")
	out := fs.String("out", "", "output folder (required); files keep their names")
	mirror := fs.Bool("mirror", true, "mirroring test-time augmentation")
	overlap := fs.Float64("overlap", infer.DefaultOverlap, "tile overlap")
	batch := fs.Int("batch", infer.DefaultBatchSize, "tiles per forward pass")
	postprocess := fs.Bool("postprocess", true, "apply the model's "+infer.PostprocessingFile+" when it has one (see evaluate -postprocessing); an ensemble applies it when all its models have the same")
	backendFlag := fs.String("backend", "", "GoMLX backend (default: automatic)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *in == "" || *out == "" {
		return fmt.Errorf("predict: -model, -in and -out are required")
	}
	be, _, err := backend.NewWith(os.Stderr, *backendFlag)
	if err != nil {
		return err
	}
	ens, err := infer.LoadEnsemble(be, strings.Split(*model, ",")...)
	if err != nil {
		return err
	}
	for _, m := range ens.Members {
		m.Mirror, m.Overlap, m.BatchSize = *mirror, *overlap, *batch
	}
	if !*postprocess {
		ens.Postprocessing = infer.Postprocessing{}
	}
	if n := len(ens.Members); n > 1 {
		fmt.Printf("ensemble of %d models: mean of their probabilities\n", n)
	}
	if pp := ens.Postprocessing; pp.LargestForeground || len(pp.LargestOf) > 0 {
		fmt.Printf("postprocessing: keep the largest foreground component %v, the largest component of labels %v\n", pp.LargestForeground, pp.LargestOf)
	}
	files, err := niftiFiles(*in)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for i, f := range files {
		t0 := time.Now()
		if err := ens.PredictFile(filepath.Join(*in, f), filepath.Join(*out, f)); err != nil {
			return err
		}
		fmt.Printf("[%d/%d] %s (%s)\n", i+1, len(files), f, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

func evaluateCmd(args []string) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	predDir := fs.String("pred", "", "folder of predictions (required)")
	refDir := fs.String("ref", "", "folder of reference label maps (required)")
	out := fs.String("o", "", "write the table to this .csv or .json file (both when no extension)")
	labelsFlag := fs.String("labels", "", "comma-separated labels to score (default: every label present)")
	ppOut := fs.String("postprocessing", "", "also choose connected-component postprocessing on these cases (nnU-Net's rule) and write it to this file, e.g. RUN/"+infer.PostprocessingFile+", which predict then applies")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *predDir == "" || *refDir == "" {
		return fmt.Errorf("evaluate: -pred and -ref are required")
	}
	var opts metrics.Options
	if *labelsFlag != "" {
		labels, err := parseInts(*labelsFlag)
		if err != nil {
			return fmt.Errorf("evaluate: -labels: %w", err)
		}
		for _, l := range labels {
			if l <= 0 {
				return fmt.Errorf("evaluate: bad label %d in -labels: labels are positive", l)
			}
		}
		opts.Labels = labels
	}
	var results []metrics.CaseResult
	var ids []string
	var refs, preds []*volume.Volume
	err := metrics.ForEachFolderCase(*refDir, *predDir, func(_, _ int, id string, ref, pred *volume.Volume) error {
		r, err := metrics.EvaluateVolumes(id, ref, pred, opts)
		if err != nil {
			return err
		}
		results = append(results, r)
		if *ppOut != "" {
			ids, refs, preds = append(ids, id), append(refs, ref), append(preds, pred)
		}
		var parts []string
		for _, s := range r.Labels {
			parts = append(parts, fmt.Sprintf("label %d Dice %.4f HD95 %.2f", s.Label, float64(s.Dice), float64(s.HD95)))
		}
		fmt.Printf("%s: %s\n", id, strings.Join(parts, ", "))
		return nil
	})
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	t := metrics.Summarize(results)
	printMeans(t)
	if math.IsNaN(float64(t.MeanDice)) {
		fmt.Println("(no finite Dice)")
	}
	if *ppOut != "" {
		pp, _, after, err := infer.DeterminePostprocessing(ids, refs, preds, opts)
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		fmt.Printf("postprocessing: keep the largest foreground component %v, the largest component of labels %v\n", pp.LargestForeground, pp.LargestOf)
		printMeans(after)
		if err := pp.Save(*ppOut); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		fmt.Println("wrote", *ppOut)
	}
	if *out != "" {
		paths := []string{*out}
		if filepath.Ext(*out) == "" {
			paths = []string{*out + ".csv", *out + ".json"}
		}
		for _, p := range paths {
			if err := t.Save(p); err != nil {
				return err
			}
			fmt.Println("wrote", p)
		}
	}
	return nil
}
