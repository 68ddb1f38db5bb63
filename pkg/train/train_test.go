package train

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	_ "github.com/msdkit/msdkit/pkg/fastcpu"
	"github.com/msdkit/msdkit/pkg/unet"
)

func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig("fastcpu")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func smallModel(dims int) unet.Config {
	return unet.Config{Dims: dims, InChannels: 1, NumClasses: 3, BaseFilters: 4, MaxFilters: 16, Levels: 3}
}

func valBatches(patch []int, n int) []*Batch {
	src := NewPhantoms(patch, 2, 999)
	var out []*Batch
	for range n {
		b, _ := src.Next()
		out = append(out, b)
	}
	return out
}

func TestPolyLR(t *testing.T) {
	for _, tc := range []struct {
		step, steps int
		want        float64
	}{{0, 100, 0.01}, {50, 100, 0.01 * math.Pow(0.5, 0.9)}, {100, 100, 0}, {200, 100, 0}} {
		if got := PolyLR(0.01, tc.step, tc.steps, 0.9); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("PolyLR(%d/%d) = %g, want %g", tc.step, tc.steps, got, tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Optimizer: "rmsprop"}, {Schedule: "step"}, {Momentum: 1}, {ValEvery: -1}} {
		if err := o.Defaults().Validate(); err == nil {
			t.Errorf("%+v: expected an error", o)
		}
	}
	if err := (Options{}).Defaults().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

// TestTrainingBeatsUntrained trains a tiny 2D U-Net on phantoms and checks the validation Dice
// improves on the untrained model's by a clear margin, with the poly schedule applied.
func TestTrainingBeatsUntrained(t *testing.T) {
	if testing.Short() {
		t.Skip("60 training steps (about 10 s) skipped under -short")
	}
	patch := []int{32, 32}
	model := smallModel(2)
	model.BaseFilters, model.MaxFilters = 16, 32
	info := ModelInfo{Model: model, Patch: patch,
		Options: Options{Steps: 60, ValEvery: 30, Quiet: true}} // nnU-Net's SGD defaults
	run, err := New(testBackend(t), t.TempDir(), info, NewPhantoms(patch, 4, 1))
	if err != nil {
		t.Fatal(err)
	}
	run.Val = valBatches(patch, 2)
	// Untrained model: initialise by predicting once.
	before, err := run.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(); err != nil {
		t.Fatal(err)
	}
	last := run.History[len(run.History)-1]
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			if !math.IsNaN(x) {
				s += x
			}
		}
		return s / float64(len(v))
	}
	t.Logf("Dice before %v, after %v (loss %.3f -> %.3f)", before, last.ValDice, run.History[0].Loss, last.Loss)
	if mean(last.ValDice) < mean(before)+0.3 || mean(last.ValDice) < 0.7 {
		t.Errorf("training did not help enough: Dice %v -> %v", before, last.ValDice)
	}
	if last.Loss >= run.History[0].Loss {
		t.Errorf("loss did not decrease: %g -> %g", run.History[0].Loss, last.Loss)
	}
	// Poly schedule: logged LR of step t is lr*(1-(t-1)/T)^0.9.
	if got, want := run.History[29].LR, PolyLR(0.01, 29, 60, 0.9); math.Abs(got-want) > 1e-12 {
		t.Errorf("LR at step 30 = %g, want %g", got, want)
	}
	for _, f := range []string{ModelFile, MetricsCSVFile, MetricsJSONFile} {
		if _, err := os.Stat(filepath.Join(run.Dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestResumeIsExact interrupts a run at step 3 of 6 and resumes it in a new Run: the losses and the
// final weights must equal those of an uninterrupted run.
func TestResumeIsExact(t *testing.T) {
	patch := []int{16, 16}
	backend := testBackend(t)
	info := ModelInfo{Model: smallModel(2), Patch: patch,
		Options: Options{Steps: 6, Optimizer: "sgd", LearningRate: 0.01, CheckpointEvery: 2, Quiet: true}}

	full, err := New(backend, t.TempDir(), info, NewPhantoms(patch, 2, 7))
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Train(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	first, err := New(backend, dir, info, NewPhantoms(patch, 2, 7))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.TrainUntil(3); err != nil {
		t.Fatal(err)
	}
	// A fresh process: new source with the same seed, state restored from the checkpoint.
	second, err := New(backend, dir, info, NewPhantoms(patch, 2, 7))
	if err != nil {
		t.Fatal(err)
	}
	if second.ResumedStep() != 3 {
		t.Fatalf("resumed at step %d, want 3", second.ResumedStep())
	}
	if err := second.Train(); err != nil {
		t.Fatal(err)
	}
	got := append(append([]Record{}, first.History...), second.History...)
	if len(got) != len(full.History) {
		t.Fatalf("%d records, want %d", len(got), len(full.History))
	}
	for i := range got {
		if got[i].Step != full.History[i].Step || got[i].Loss != full.History[i].Loss {
			t.Errorf("step %d: resumed loss %v, uninterrupted %v", full.History[i].Step, got[i].Loss, full.History[i].Loss)
		}
	}
	// Same weights at the end.
	for v := range full.Ctx.IterVariables() {
		if !strings.HasPrefix(v.Scope(), "/"+ModelScope) {
			continue
		}
		w := second.Ctx.GetVariableByScopeAndName(v.Scope(), v.Name())
		if w == nil {
			t.Fatalf("variable %s missing after resume", v.ScopeAndName())
		}
		a, b := tensors.MustCopyFlatData[float32](v.MustValue()), tensors.MustCopyFlatData[float32](w.MustValue())
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("variable %s differs at %d: %g vs %g", v.ScopeAndName(), i, a[i], b[i])
			}
		}
	}
	// The CSV log has one row per step.
	data, err := os.ReadFile(filepath.Join(dir, MetricsCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 7 {
		t.Errorf("metrics.csv has %d lines, want header + 6:\n%s", n, data)
	}
}

// TestTransferLearning fine-tunes from a pretrained run on a task with another number of classes:
// every variable but the head is copied; the frozen encoder does not move during the warm-up.
func TestTransferLearning(t *testing.T) {
	patch := []int{16, 16}
	backend := testBackend(t)
	preDir := t.TempDir()
	pre, err := New(backend, preDir, ModelInfo{Model: smallModel(2), Patch: patch,
		Options: Options{Steps: 2, Quiet: true}}, NewPhantoms(patch, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if err := pre.Train(); err != nil {
		t.Fatal(err)
	}
	cfg := smallModel(2)
	cfg.NumClasses = 2
	ft, err := New(backend, t.TempDir(), ModelInfo{Model: cfg, Patch: patch,
		Options: Options{Steps: 2, Pretrained: preDir, FreezeEncoderSteps: 2, Quiet: true}}, &binarize{NewPhantoms(patch, 2, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ft.Train(); err != nil {
		t.Fatal(err)
	}
	if optimizers.GetGlobalStep(ft.Ctx) != 2 {
		t.Fatalf("global step %d", optimizers.GetGlobalStep(ft.Ctx))
	}
	var enc, dec int
	for v := range pre.Ctx.IterVariables() {
		scope := v.Scope()
		if !strings.HasPrefix(scope, "/"+ModelScope) || strings.Contains(scope, unet.HeadScope) {
			continue
		}
		w := ft.Ctx.GetVariableByScopeAndName(scope, v.Name())
		a, b := tensors.MustCopyFlatData[float32](v.MustValue()), tensors.MustCopyFlatData[float32](w.MustValue())
		same := true
		for i := range a {
			same = same && a[i] == b[i]
		}
		if strings.HasPrefix(scope, "/"+ModelScope+"/enc_") {
			enc++
			if !same {
				t.Errorf("frozen encoder variable %s changed", v.ScopeAndName())
			}
		} else if !same {
			dec++
		}
	}
	if enc == 0 || dec == 0 {
		t.Errorf("expected frozen encoder variables (%d) and trained decoder variables (%d)", enc, dec)
	}
	head := ft.Ctx.GetVariableByScopeAndName("/"+ModelScope+"/"+unet.HeadScope+"/out_0", "weights")
	if head == nil || head.Shape().Dimensions[0] != 2 {
		t.Errorf("new head missing or wrong: %v", head)
	}
}

// binarize merges classes 1 and 2 into 1.
type binarize struct{ *Phantoms }

func (b *binarize) Next() (*Batch, error) {
	x, err := b.Phantoms.Next()
	if err != nil {
		return nil, err
	}
	for i, l := range x.Labels {
		x.Labels[i] = min(l, 1)
	}
	return x, nil
}

func TestDivergenceGuard(t *testing.T) {
	patch := []int{16, 16}
	run, err := New(testBackend(t), t.TempDir(), ModelInfo{Model: smallModel(2), Patch: patch,
		Options: Options{Steps: 20, Optimizer: "sgd", LearningRate: 1e6, Momentum: 0.9, Quiet: true}}, NewPhantoms(patch, 2, 5))
	if err != nil {
		t.Fatal(err)
	}
	err = run.Train()
	if err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("expected divergence error, got %v", err)
	}
	t.Log(err)
}

func TestNewRejectsBadConfig(t *testing.T) {
	backend := testBackend(t)
	for name, info := range map[string]ModelInfo{
		"patch-rank":  {Model: smallModel(2), Patch: []int{16, 16, 16}},
		"patch-size":  {Model: smallModel(2), Patch: []int{18, 16}},
		"optimizer":   {Model: smallModel(2), Patch: []int{16, 16}, Options: Options{Optimizer: "lbfgs"}},
		"num-classes": {Model: unet.Config{Dims: 2, InChannels: 1, NumClasses: 1}, Patch: []int{16, 16}},
	} {
		if _, err := New(backend, t.TempDir(), info, NewPhantoms([]int{16, 16}, 1, 1)); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
	// A directory of another model is refused.
	dir := t.TempDir()
	if _, err := New(backend, dir, ModelInfo{Model: smallModel(2), Patch: []int{16, 16}}, nil); err != nil {
		t.Fatal(err)
	}
	other := smallModel(2)
	other.BaseFilters = 8
	if _, err := New(backend, dir, ModelInfo{Model: other, Patch: []int{16, 16}}, nil); err == nil {
		t.Error("expected an error for a directory of another model")
	}
}

// TestPrecisionOnCPU: a bf16 model trains in float32 on the CPU backend, model.json says so, and
// the same directory still opens as the same model when bf16 is asked for again.
func TestPrecisionOnCPU(t *testing.T) {
	backend := testBackend(t)
	dir := t.TempDir()
	cfg := smallModel(2)
	cfg.Precision = unet.PrecisionBF16
	info := ModelInfo{Model: cfg, Patch: []int{16, 16}, Options: Options{Quiet: true}}
	run, err := New(backend, dir, info, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Model.Precision != unet.PrecisionFloat32 {
		t.Errorf("bf16 on %s runs in %q, want float32", backend.Name(), run.Info.Model.Precision)
	}
	saved, err := ReadModelInfo(dir)
	if err != nil || saved.Model.Precision != unet.PrecisionFloat32 {
		t.Errorf("model.json precision %v, %v", saved, err)
	}
	if _, err := New(backend, dir, info, nil); err != nil {
		t.Errorf("reopening the run with bf16 asked for: %v", err)
	}
}

func TestCurvesFigure(t *testing.T) {
	h := []Record{{Step: 1, Loss: 2}, {Step: 2, Loss: 1.5, ValDice: []float64{0.3, 0.5}, MeanDice: 0.4}, {Step: 3, Loss: 1.2}}
	png, err := CurvesFigure(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Errorf("not a PNG (%d bytes)", len(png))
	}
}

// TestOptimizersAndSchedules trains a few steps with every optimizer and schedule and checks the
// learning rate the graph used at the last step against the schedule's formula.
func TestOptimizersAndSchedules(t *testing.T) {
	patch := []int{16, 16}
	backend := testBackend(t)
	for _, opt := range []string{"sgd", "adam", "adamw"} {
		for _, sched := range []string{"poly", "cosine", "constant"} {
			o := Options{Steps: 4, Optimizer: opt, Schedule: sched, Quiet: true}
			run, err := New(backend, t.TempDir(), ModelInfo{Model: smallModel(2), Patch: patch, Options: o}, NewPhantoms(patch, 2, 1))
			if err != nil {
				t.Fatal(err)
			}
			if err := run.TrainUntil(3); err != nil {
				t.Fatalf("%s/%s: %v", opt, sched, err)
			}
			lrVar := run.Ctx.GetVariableByScopeAndName("/"+optimizers.Scope, optimizers.ParamLearningRate)
			if lrVar == nil {
				t.Fatalf("%s/%s: no learning rate variable", opt, sched)
			}
			got := float64(lrVar.MustValue().Value().(float32))
			if want := run.stepLR(2); math.Abs(got-want) > 1e-6*want+1e-9 {
				t.Errorf("%s/%s: learning rate at step 3 = %g, want %g", opt, sched, got, want)
			}
			for _, r := range run.History {
				if math.IsNaN(r.Loss) {
					t.Errorf("%s/%s: NaN loss", opt, sched)
				}
			}
		}
	}
}
