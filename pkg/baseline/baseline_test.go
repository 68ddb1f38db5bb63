package baseline

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/phantom"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/train"
	"github.com/msdkit/msdkit/pkg/volume"
)

// env points the data root and the runs folder at temporary folders and sets fast mode.
func env(t *testing.T, fast bool) (data, runs string) {
	t.Helper()
	data, runs = t.TempDir(), t.TempDir()
	t.Setenv(msd.EnvData, data)
	t.Setenv(EnvRuns, runs)
	if fast {
		t.Setenv(msd.EnvFast, "1")
	} else {
		t.Setenv(msd.EnvFast, "0")
	}
	if !testing.Verbose() {
		Out = io.Discard
	}
	t.Cleanup(func() { Out = os.Stdout })
	return data, runs
}

func writeSet(t *testing.T, dir, task string, n int) {
	t.Helper()
	tk, err := msd.Lookup(task)
	if err != nil {
		t.Fatal(err)
	}
	if err := phantom.WriteSet(dir, tk, phantom.SpecFor(tk), n, 7); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRules(t *testing.T) {
	t.Run("missing, full mode: error says how to download", func(t *testing.T) {
		env(t, false)
		_, err := Open("Task09_Spleen")
		if err == nil || !strings.Contains(err.Error(), "msdkit download -task Task09_Spleen") || !strings.Contains(err.Error(), "Download_Sets.ipynb") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing, fast mode: phantoms under the runs folder", func(t *testing.T) {
		data, runs := env(t, true)
		s, err := Open("Task05_Prostate")
		if err != nil {
			t.Fatal(err)
		}
		if !s.Synthetic || !strings.HasPrefix(s.Dataset.Dir, runs) || len(s.Dataset.Cases) != FastPhantoms {
			t.Fatalf("set %+v", s)
		}
		if entries, _ := os.ReadDir(data); len(entries) != 0 {
			t.Fatalf("Open wrote into the data root: %v", entries)
		}
		if got := len(s.Dataset.Modalities); got != 2 {
			t.Fatalf("prostate phantoms have %d modalities, want 2", got)
		}
	})
	t.Run("heart falls back to LA2018", func(t *testing.T) {
		data, _ := env(t, false)
		writeSet(t, filepath.Join(data, HeartFallback), "Task02_Heart", 2)
		s, err := Open("Task02_Heart")
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != HeartFallback || s.Synthetic || s.Root != data || s.Task.Name != "Task02_Heart" {
			t.Fatalf("set %+v", s)
		}
		// The MSD set wins when both are there.
		writeSet(t, filepath.Join(data, "Task02_Heart"), "Task02_Heart", 2)
		if s, err = Open("Task02_Heart"); err != nil || s.Name != "Task02_Heart" {
			t.Fatalf("set %+v, err %v", s, err)
		}
	})
	t.Run("unknown task", func(t *testing.T) {
		env(t, true)
		if _, err := Open("Task11_Nothing"); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestRunsRoot(t *testing.T) {
	t.Setenv(EnvRuns, "")
	got := RunsRoot()
	if !strings.HasSuffix(got, filepath.Join("out", "runs")) {
		t.Fatalf("RunsRoot() = %s", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(got)), "go.mod")); err != nil {
		t.Fatalf("RunsRoot() = %s is not under the module root: %v", got, err)
	}
	t.Setenv(EnvRuns, "/x/y")
	if got := RunsRoot(); got != "/x/y" {
		t.Fatalf("RunsRoot() = %s with %s=/x/y", got, EnvRuns)
	}
}

func TestCoarsen(t *testing.T) {
	fp := &fingerprint.Fingerprint{Cases: []fingerprint.CaseInfo{
		{Spacing: [3]float64{1, 1, 2}, ShapeAfterCrop: [3]int{80, 80, 40}, ShapeBeforeCrop: [3]int{100, 100, 50}},
		{Spacing: [3]float64{1, 1, 2}, ShapeAfterCrop: [3]int{80, 80, 40}, ShapeBeforeCrop: [3]int{100, 100, 50}},
	}}
	small, f := coarsen(fp, 80*80*40)
	if f != 1 || small != fp {
		t.Fatalf("no coarsening expected: f=%g", f)
	}
	c, f := coarsen(fp, 40*40*20)
	if math.Abs(f-2) > 1e-12 {
		t.Fatalf("f = %g, want 2", f)
	}
	if got := c.Cases[0]; got.Spacing != [3]float64{2, 2, 4} || got.ShapeAfterCrop != [3]int{40, 40, 20} || got.ShapeBeforeCrop != [3]int{50, 50, 25} {
		t.Fatalf("coarsened case %+v", got)
	}
	if fp.Cases[0].Spacing != [3]float64{1, 1, 2} {
		t.Fatal("coarsen changed its input")
	}
}

func TestBestWorst(t *testing.T) {
	c := func(id string, d ...float64) metrics.CaseResult {
		r := metrics.CaseResult{ID: id}
		for i, v := range d {
			r.Labels = append(r.Labels, metrics.LabelScore{Label: i + 1, Dice: metrics.Float(v)})
		}
		return r
	}
	tab := &metrics.Table{Cases: []metrics.CaseResult{c("a", 0.5, 0.7), c("b", math.NaN(), math.NaN()), c("c", 0.9, math.NaN()), c("d", 0.1, 0.2)}}
	best, worst, err := BestWorst(tab)
	if err != nil || best.ID != "c" || worst.ID != "d" {
		t.Fatalf("best %s worst %s err %v", best.ID, worst.ID, err)
	}
	if _, _, err := BestWorst(&metrics.Table{Cases: []metrics.CaseResult{c("b", math.NaN())}}); err == nil {
		t.Fatal("no finite Dice: no error")
	}
}

// TestPipelineFast runs every step on Task04 phantoms in fast mode and checks what they leave.
func TestPipelineFast(t *testing.T) {
	if testing.Short() {
		t.Skip("training run skipped under -short")
	}
	_, runs := env(t, true)
	// The mechanics, not the quality: a few steps.
	saved := FastTraining
	FastTraining.Steps, FastTraining.ValEvery, FastTraining.CheckpointEvery = 6, 3, 6
	t.Cleanup(func() { FastTraining = saved })
	s, err := Open("Task04_Hippocampus")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Summary(s); err != nil {
		t.Fatal(err)
	}
	if err := ShowCase(s, 0); err != nil {
		t.Fatal(err)
	}
	p, err := Plan(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.PlansPath()); err != nil || !strings.HasPrefix(s.PlansPath(), runs) {
		t.Fatalf("plan not saved under the runs folder: %s %v", s.PlansPath(), err)
	}
	// Steps out of order say what to run first.
	if _, err := Validate(s); err == nil || !strings.Contains(err.Error(), "run the training cell first") {
		t.Fatalf("Validate before Train: err = %v", err)
	}
	if err := Pictures(s); err == nil {
		t.Fatal("Pictures before Train: no error")
	}
	run, err := Train(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := Pictures(s); err == nil || !strings.Contains(err.Error(), "run the validation cell first") {
		t.Fatalf("Pictures before Validate: err = %v", err)
	}
	if len(run.History) != 6 {
		t.Fatalf("trained %d steps, want 6", len(run.History))
	}
	if h, err := train.ReadLog(s.RunDir()); err != nil || len(h) != 6 || h[5].ValDice == nil {
		t.Fatalf("history from metrics.csv: %d records, err %v", len(h), err)
	}
	tab, err := Validate(s)
	if err != nil {
		t.Fatal(err)
	}
	_, val, err := s.Fold()
	if err != nil || len(tab.Cases) != len(val) || len(val) == 0 {
		t.Fatalf("validated %d cases, fold has %d (%v)", len(tab.Cases), len(val), err)
	}
	for _, r := range tab.Cases {
		if len(r.Labels) != 2 {
			t.Fatalf("case %s scored %d labels, want 2", r.ID, len(r.Labels))
		}
	}
	if err := Pictures(s); err != nil {
		t.Fatal(err)
	}
	if err := Saved(s); err != nil {
		t.Fatal(err)
	}
	// Training again in fast mode starts afresh.
	if run, err = Train(s); err != nil || run.ResumedStep() != 0 || len(run.History) != 6 {
		t.Fatalf("second fast run: err %v", err)
	}
	// A second Plan reuses the saved file.
	p2, err := Plan(s)
	if err != nil || p2.PreprocessHash() != p.PreprocessHash() {
		t.Fatalf("saved plan not reused: %v", err)
	}
	t.Logf("fast Task04 phantoms: mean Dice %.3f, final loss %.3f", float64(tab.MeanDice), run.History[len(run.History)-1].Loss)
}

func TestDescribeNorm(t *testing.T) {
	for _, c := range []struct {
		n    plans.ChannelNorm
		want string
	}{
		{plans.ChannelNorm{Modality: "CT", Norm: volume.Norm{Scheme: volume.SchemeCT, Mean: 100, Std: 50, Lower: -100, Upper: 300}}, "CT: clip to the dataset's foreground 0.5/99.5 percentiles [-100, 300], then (x - 100) / 50"},
		{plans.ChannelNorm{Modality: "FLAIR", Norm: volume.Norm{Scheme: volume.SchemeZScore, UseMask: true}}, "ZScore: z-score per image over its nonzero region (zero outside)"},
		{plans.ChannelNorm{Modality: "MRI", Norm: volume.Norm{Scheme: volume.SchemeZScore}}, "ZScore: z-score per image"},
	} {
		if got := describeNorm(c.n); got != c.want {
			t.Errorf("describeNorm(%+v) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestTrainOptionsSteps(t *testing.T) {
	t.Setenv(msd.EnvFast, "1")
	t.Setenv(EnvSteps, "")
	o, err := TrainOptions()
	if err != nil || o.Steps != FastSteps {
		t.Fatalf("fast default: %d steps, %v", o.Steps, err)
	}
	t.Setenv(EnvSteps, "7")
	o, err = TrainOptions()
	if err != nil || o.Steps != 7 || o.CheckpointEvery != 7 {
		t.Fatalf("MSD_STEPS=7: %d steps, checkpoint every %d, %v", o.Steps, o.CheckpointEvery, err)
	}
	t.Setenv(msd.EnvFast, "")
	t.Setenv(EnvSteps, "300")
	if o, err = TrainOptions(); err != nil || o.Steps != 300 || o.ValEvery != FullTraining.ValEvery {
		t.Fatalf("full MSD_STEPS=300: %+v, %v", o, err)
	}
	for _, bad := range []string{"0", "-3", "many"} {
		t.Setenv(EnvSteps, bad)
		if _, err := TrainOptions(); err == nil {
			t.Errorf("MSD_STEPS=%q accepted", bad)
		}
	}
}
