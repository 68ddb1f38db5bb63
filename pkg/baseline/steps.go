package baseline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/msdkit/msdkit/pkg/backend"
	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/infer"
	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/plot"
	"github.com/msdkit/msdkit/pkg/train"
	"github.com/msdkit/msdkit/pkg/volume"
)

// Summary reads the set's cases (at most FastFingerprintCases in fast mode) and shows a table of
// their shapes, spacings, channels, data types and label counts (HTML in a notebook, text
// elsewhere).
func Summary(s *Set) (*msd.SetSummary, error) {
	n := 0
	if Fast() {
		n = FastFingerprintCases
	}
	sum, err := msd.Summarize(s.Dataset, n, nil)
	if err != nil {
		return nil, err
	}
	msd.DisplaySummary([]*msd.SetSummary{sum})
	return sum, nil
}

// ShowCase draws case i (axial, coronal and sagittal slices through the most labelled voxels,
// labels overlaid; one axial view per further channel).
func ShowCase(s *Set, i int) error {
	if i < 0 || i >= len(s.Dataset.Cases) {
		return fmt.Errorf("baseline: case %d outside [0, %d)", i, len(s.Dataset.Cases))
	}
	c := s.Dataset.Cases[i]
	img, lbl, err := msd.LoadCase(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(Out, "%s: %d channel(s) %v, shape %v (x, y, z), spacing %.3g mm\n", c.ID, img.Channels, s.Dataset.Modalities, img.Shape, img.Spacing)
	views := []plot.SliceOptions{{Plane: plot.Axial}, {Plane: plot.Coronal}, {Plane: plot.Sagittal}}
	for ch := 1; ch < img.Channels; ch++ {
		views = append(views, plot.SliceOptions{Plane: plot.Axial, Channel: ch})
	}
	for _, v := range views {
		v.Index, v.Labels, v.LabelNames = plot.Auto, lbl, s.LabelNames()
		v.Title = fmt.Sprintf("%s, channel %d (%s)", c.ID, v.Channel, modality(s, v.Channel))
		png, err := plot.Slice(img, v)
		if err != nil {
			return err
		}
		if err := show(png); err != nil {
			return err
		}
	}
	return nil
}

func modality(s *Set, ch int) string {
	if ch < len(s.Dataset.Modalities) {
		return s.Dataset.Modalities[ch]
	}
	return "?"
}

// show displays a picture in a notebook; elsewhere it is dropped (plot.Display's behaviour).
func show(png []byte) error {
	err := plot.Display(png)
	if errors.Is(err, plot.ErrNotNotebook) {
		return nil
	}
	return err
}

// PlansPath returns where Plan keeps the plan of the current mode.
func (s *Set) PlansPath() string {
	if Fast() {
		return filepath.Join(s.Work(), "plans-fast.json")
	}
	return filepath.Join(s.Work(), "plans.json")
}

// Plan returns the set's plan: the one saved at PlansPath (so a person's edits apply), else a new
// one from the fingerprint (cached as fingerprint.json) for the memory budget (see the package
// documentation for fast mode). It prints the plan as JSON and explains its main choices.
func Plan(s *Set) (*plans.Plans, error) {
	path := s.PlansPath()
	if p, err := plans.Load(path); err == nil {
		fmt.Fprintf(Out, "using the saved plan %s (delete it to plan again)\n", path)
		return p, explain(s, p)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	p, err := makePlan(s)
	if err != nil {
		return nil, err
	}
	return p, explain(s, p)
}

// LoadPlan returns the saved plan (see Plan), making it first when there is none, without
// printing it.
func LoadPlan(s *Set) (*plans.Plans, error) {
	if p, err := plans.Load(s.PlansPath()); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return makePlan(s)
}

// makePlan fingerprints the set and makes and saves a plan for the current mode.
func makePlan(s *Set) (*plans.Plans, error) {
	path := s.PlansPath()
	fp, err := Fingerprint(s)
	if err != nil {
		return nil, err
	}
	opt := plans.Options{}
	if Fast() {
		var f float64
		fp, f = coarsen(fp, FastVoxels)
		if f > 1 {
			fmt.Fprintf(Out, "fast mode: planning for a grid %.2f times coarser than the data (median case above %d voxels)\n", f, FastVoxels)
		}
		opt.Budget, opt.BaseFilters = FastBudget, FastBaseFilters
	} else {
		c := backend.Decide(backend.ThisMachine(), "")
		if onGPU(c) {
			m, err := backend.MemoryBudget(c)
			if err != nil {
				return nil, err
			}
			opt.Budget = fmt.Sprintf("GPU %.2f GB", float64(m.Bytes)/1e9)
			fmt.Fprintf(Out, "memory budget: %s (backend %s)\n", m, c.Config)
		} else {
			opt.Budget, opt.BaseFilters = CPUBudget, CPUBaseFilters
			fmt.Fprintf(Out, "backend %s computes on the CPU: planning for %s with %d base filters (compute, not memory, limits CPU training)\n",
				c.Config, CPUBudget, CPUBaseFilters)
		}
	}
	p, err := plans.Make(fp, opt)
	if err != nil {
		return nil, err
	}
	if Fast() {
		p.Note = "fast mode plan (MSD_FAST=1): small budget, few filters, coarse grid for large cases"
	}
	if err := p.Save(path); err != nil {
		return nil, err
	}
	fmt.Fprintf(Out, "saved the plan to %s (edit it and run again to change it)\n", path)
	return p, nil
}

// Fingerprint returns the set's fingerprint, computed once (at most FastFingerprintCases cases in
// fast mode) and cached in Work().
func Fingerprint(s *Set) (*fingerprint.Fingerprint, error) {
	name := "fingerprint.json"
	if Fast() {
		name = "fingerprint-fast.json"
	}
	path := filepath.Join(s.Work(), name)
	if fp, err := fingerprint.Load(path); err == nil {
		return fp, nil
	}
	in := fingerprint.FromDataset(s.Dataset)
	if Fast() && len(in.Cases) > FastFingerprintCases {
		in.Cases = in.Cases[:FastFingerprintCases]
	}
	fmt.Fprintf(Out, "fingerprinting %d cases...\n", len(in.Cases))
	fp, err := fingerprint.Compute(in, fingerprint.Options{})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Work(), 0o755); err != nil {
		return nil, err
	}
	return fp, fp.Save(path)
}

// coarsen returns a copy of fp as if every case were resampled f times coarser, with f chosen so
// that the median cropped case has at most maxVoxels voxels (f = 1: fp unchanged).
func coarsen(fp *fingerprint.Fingerprint, maxVoxels int) (*fingerprint.Fingerprint, float64) {
	var vox []float64
	for _, c := range fp.Cases {
		vox = append(vox, float64(c.ShapeAfterCrop[0])*float64(c.ShapeAfterCrop[1])*float64(c.ShapeAfterCrop[2]))
	}
	if len(vox) == 0 {
		return fp, 1
	}
	sort.Float64s(vox)
	med := vox[len(vox)/2]
	if med <= float64(maxVoxels) {
		return fp, 1
	}
	f := math.Cbrt(med / float64(maxVoxels))
	out := *fp
	out.Cases = make([]fingerprint.CaseInfo, len(fp.Cases))
	for i, c := range fp.Cases {
		for a := range 3 {
			c.Spacing[a] *= f
			c.ShapeAfterCrop[a] = max(1, int(math.Round(float64(c.ShapeAfterCrop[a])/f)))
			c.ShapeBeforeCrop[a] = max(1, int(math.Round(float64(c.ShapeBeforeCrop[a])/f)))
		}
		out.Cases[i] = c
	}
	return &out, f
}

// explain prints the plan as JSON and the reasons behind its main numbers.
func explain(s *Set, p *plans.Plans) error {
	b, err := p.JSON()
	if err != nil {
		return err
	}
	c, ok := p.Configurations[plans.Config3D]
	if !ok {
		return fmt.Errorf("baseline: plan of %s has no %s configuration", s.Name, plans.Config3D)
	}
	var why strings.Builder
	fmt.Fprintf(&why, "- target spacing %.3g mm (x, y, z): the median case spacing", p.TargetSpacing)
	if Fast() && p.Note != "" {
		why.WriteString(" of the (fast mode) grid")
	}
	fmt.Fprintf(&why, "; median case at that spacing %v voxels\n", c.MedianShape)
	fmt.Fprintf(&why, "- patch %v (x, y, z), pooled %v times per axis: as large as the memory budget (%s) allows, up to the median case\n",
		c.PatchSize, c.PoolPerAxis, p.Budget)
	fmt.Fprintf(&why, "- batch %d, network of %d levels with filters %v: estimated activation memory %s\n",
		c.BatchSize, c.Levels, c.Filters, msd.HumanBytes(c.EstimatedBytes))
	for i, n := range p.Normalization {
		fmt.Fprintf(&why, "- channel %d (%s): %s\n", i, n.Modality, describeNorm(n))
	}
	if gonbui.IsNotebook {
		gonbui.DisplayMarkdown("**Plan** (`" + s.PlansPath() + "`)\n\n" + why.String() + "\n```json\n" + string(b) + "\n```\n")
		gonbui.Sync()
		return nil
	}
	fmt.Fprintf(Out, "%s\n%s", why.String(), b)
	return nil
}

// FastTraining and FullTraining are the training options of the two modes (zero fields: the
// defaults of train.Options).
var (
	FastTraining = train.Options{Steps: FastSteps, Optimizer: "adam", LearningRate: 1e-2, Schedule: "cosine",
		ValEvery: 10, CheckpointEvery: FastSteps, Quiet: true}
	FullTraining = train.Options{ValEvery: 50, CheckpointEvery: 50}
)

// describeNorm says in words what a channel normalisation does.
func describeNorm(n plans.ChannelNorm) string {
	switch {
	case n.Std > 0:
		return fmt.Sprintf("%s: clip to the dataset's foreground 0.5/99.5 percentiles [%.4g, %.4g], then (x - %.4g) / %.4g",
			n.Scheme, n.Lower, n.Upper, n.Mean, n.Std)
	case n.UseMask:
		return n.Scheme + ": z-score per image over its nonzero region (zero outside)"
	default:
		return n.Scheme + ": z-score per image"
	}
}

// onGPU reports whether a backend choice computes on a GPU.
func onGPU(c backend.Choice) bool { return strings.Contains(c.Config, "cuda") }

// TrainOptions returns the training options of the current mode, with the steps from
// MSD_STEPS when it is set.
func TrainOptions() (train.Options, error) {
	o := FullTraining
	if Fast() {
		o = FastTraining
	}
	if v := os.Getenv(EnvSteps); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, fmt.Errorf("baseline: %s=%q: want a positive number of steps", EnvSteps, v)
		}
		o.Steps = n
		if o.CheckpointEvery > n {
			o.CheckpointEvery = n
		}
	}
	return o, nil
}

// Train trains a U-Net on fold 0 of the set with the 3D configuration of its plan (LoadPlan),
// drawing the loss and validation Dice curves live in a notebook. Fast mode starts afresh; full
// mode resumes the run in RunDir. The model (model.json, checkpoints), fold.json and the metrics
// stay in RunDir.
func Train(s *Set) (*train.Run, error) {
	p, err := LoadPlan(s)
	if err != nil {
		return nil, err
	}
	be, choice, err := backend.New(Out)
	if err != nil {
		return nil, err
	}
	opts, err := TrainOptions()
	if err != nil {
		return nil, err
	}
	if !Fast() && !onGPU(choice) {
		opts.BatchSize = CPUBatch
	}
	dir := s.RunDir()
	maxCases := 0
	if Fast() {
		maxCases = FastCases
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	exp, err := train.NewExperiment(be, train.ExperimentConfig{DataRoot: s.Root, WorkRoot: s.Work(), Task: s.Name,
		Plans: p, Dir: dir, Options: opts, MaxCases: maxCases, Progress: nil})
	if err != nil {
		return nil, err
	}
	run := exp.Run
	fmt.Fprintf(Out, "fold 0: %d training and %d validation cases; model %d levels, filters from %d, patch %v (z, y, x), batch %d, %d steps (starting at %d)\n",
		len(exp.TrainIDs), len(exp.ValCases), run.Info.Model.Levels, run.Info.Model.BaseFilters, run.Info.Patch,
		run.Opts.BatchSize, run.Opts.Steps, run.ResumedStep())
	run.LivePlot(5)
	start := time.Now()
	if err := run.Train(); err != nil {
		return nil, err
	}
	if n := len(run.History); n > 0 {
		last := run.History[n-1]
		fmt.Fprintf(Out, "trained %d steps in %s (%.2f s/step), last loss %.4f\n", n, time.Since(start).Round(time.Second),
			time.Since(start).Seconds()/float64(n), last.Loss)
	}
	return run, nil
}

// Fold reads the training and validation case IDs of the run in RunDir.
func (s *Set) Fold() (trainIDs, valIDs []string, err error) {
	b, err := os.ReadFile(filepath.Join(s.RunDir(), "fold.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("baseline: no trained run in %s (run the training cell first): %w", s.RunDir(), err)
	}
	var f struct{ Train, Val []string }
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("baseline: %s: %w", filepath.Join(s.RunDir(), "fold.json"), err)
	}
	return f.Train, f.Val, nil
}

// ValidationFile is the per-case table Validate writes in the run directory (also as .csv).
const ValidationFile = "validation.json"

// PredictionsDir is the folder of the run directory holding the validation predictions.
const PredictionsDir = infer.PredictionsDir

// Validate segments the run's validation cases in their original geometry (sliding window, the
// training preprocessing undone; mirroring in full mode), writes the predictions to
// RunDir/predictions, scores them (Dice, HD95) against the original labels and shows and saves the
// per-case table.
func Validate(s *Set) (*metrics.Table, error) {
	_, valIDs, err := s.Fold()
	if err != nil {
		return nil, err
	}
	if len(valIDs) == 0 {
		return nil, fmt.Errorf("baseline: the run in %s has no validation cases", s.RunDir())
	}
	be, _, err := backend.New(nil)
	if err != nil {
		return nil, err
	}
	pred, _, err := infer.Load(be, s.RunDir())
	if err != nil {
		return nil, err
	}
	pred.Mirror = !Fast()
	if len(pred.LabelValues) < 2 {
		return nil, fmt.Errorf("baseline: the run in %s has no plan with labels", s.RunDir())
	}
	opts := metrics.Options{Names: s.LabelNames()}
	for _, l := range pred.LabelValues[1:] {
		opts.Labels = append(opts.Labels, l)
	}
	cases, err := s.Dataset.Subset(valIDs)
	if err != nil {
		return nil, err
	}
	t, err := pred.ValidateCases(cases, opts, filepath.Join(s.RunDir(), infer.PredictionsDir),
		func(done, total int, r metrics.CaseResult, took time.Duration) {
			fmt.Fprintf(Out, "[%d/%d] %s: mean Dice %.4f (%s)\n", done, total, r.ID, caseDice(r), took.Round(time.Millisecond))
		})
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	for _, name := range []string{ValidationFile, strings.TrimSuffix(ValidationFile, ".json") + ".csv"} {
		if err := t.Save(filepath.Join(s.RunDir(), name)); err != nil {
			return nil, err
		}
	}
	md := t.Markdown(true)
	if gonbui.IsNotebook {
		gonbui.DisplayMarkdown(md)
		gonbui.Sync()
	} else {
		fmt.Fprintln(Out, md)
	}
	fmt.Fprintf(Out, "mean Dice over labels %.4f on %d validation cases (saved in %s)\n", float64(t.MeanDice), len(t.Cases), s.RunDir())
	return &t, nil
}

// caseDice is the mean of a case's finite label Dice scores (NaN when none).
func caseDice(r metrics.CaseResult) float64 {
	sum, n := 0.0, 0
	for _, l := range r.Labels {
		if d := float64(l.Dice); !math.IsNaN(d) {
			sum += d
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// LoadValidation reads the table Validate saved.
func (s *Set) LoadValidation() (*metrics.Table, error) {
	path := filepath.Join(s.RunDir(), ValidationFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: no validation table (run the validation cell first): %w", err)
	}
	var t metrics.Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("baseline: %s: %w", path, err)
	}
	return &t, nil
}

// BestWorst returns the validation cases with the highest and lowest mean Dice (cases without a
// finite Dice are skipped).
func BestWorst(t *metrics.Table) (best, worst metrics.CaseResult, err error) {
	found := false
	for _, r := range t.Cases {
		d := caseDice(r)
		if math.IsNaN(d) {
			continue
		}
		if !found || d > caseDice(best) {
			best = r
		}
		if !found || d < caseDice(worst) {
			worst = r
		}
		found = true
	}
	if !found {
		return best, worst, fmt.Errorf("baseline: no validation case has a finite Dice")
	}
	return best, worst, nil
}

// Pictures draws the training curves (loss and validation Dice over the steps) and, for the best
// and the worst validation case, image | truth | prediction slices through the labelled region.
func Pictures(s *Set) error {
	hist, err := train.ReadLog(s.RunDir())
	if err != nil {
		return err
	}
	png, err := train.CurvesFigure(hist)
	if err != nil {
		return err
	}
	if err := show(png); err != nil {
		return err
	}
	t, err := s.LoadValidation()
	if err != nil {
		return err
	}
	best, worst, err := BestWorst(t)
	if err != nil {
		return err
	}
	for _, pick := range []struct {
		what string
		r    metrics.CaseResult
	}{{"best", best}, {"worst", worst}} {
		c, err := s.Dataset.Case(pick.r.ID)
		if err != nil {
			return err
		}
		img, lbl, err := msd.LoadCase(c)
		if err != nil {
			return err
		}
		seg, err := volume.Read(filepath.Join(s.RunDir(), PredictionsDir, pick.r.ID+".nii.gz"))
		if err != nil {
			return err
		}
		title := fmt.Sprintf("%s validation case %s: mean Dice %.3f (image | truth | prediction)", pick.what, pick.r.ID, caseDice(pick.r))
		fmt.Fprintln(Out, title)
		png, err := plot.Slice(img, plot.SliceOptions{Plane: plot.Axial, Index: plot.Auto, Labels: lbl, Prediction: seg,
			LabelNames: s.LabelNames(), Title: title})
		if err != nil {
			return err
		}
		if err := show(png); err != nil {
			return err
		}
		if best.ID == worst.ID {
			break
		}
	}
	return nil
}

// Saved prints where the trained model is and how to use it from the command line.
func Saved(s *Set) error {
	dir := s.RunDir()
	info, err := train.ReadModelInfo(dir)
	if err != nil {
		return err
	}
	var size int64
	var files int
	err = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			size += fi.Size()
			files++
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(Out, "model saved in %s (%d files, %s): model.json (network %d levels, filters from %d, patch %v), checkpoints/, metrics.csv, %s, %s/\n",
		dir, files, msd.HumanBytes(size), info.Model.Levels, info.Model.BaseFilters, info.Patch, ValidationFile, PredictionsDir)
	fmt.Fprintf(Out, "segment new images with:\n  go run ./cmd/msdkit predict -model %s -in <folder of images> -out <folder>\n", dir)
	return nil
}
