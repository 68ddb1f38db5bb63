package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/phantom"
	"github.com/msdkit/msdkit/pkg/volume"
)

// TestPipelineOnPhantoms runs plan, train, predict and evaluate on a generated MSD-layout set.
func TestPipelineOnPhantoms(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end CLI run skipped under -short")
	}
	root := t.TempDir()
	task, err := msd.Lookup("Task04_Hippocampus")
	if err != nil {
		t.Fatal(err)
	}
	set := filepath.Join(root, task.Name)
	if err := phantom.WriteSet(set, task, phantom.SpecFor(task), 6, 1); err != nil {
		t.Fatal(err)
	}
	plansPath := filepath.Join(root, "plans.json")
	if err := planCmd([]string{"-task", task.Name, "-data", root, "-budget", "CPU RAM 2 GB", "-o", plansPath}); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(root, "run")
	if err := trainCmd([]string{"-task", task.Name, "-data", root, "-plans", plansPath, "-out", run, "-steps", "2",
		"-batch", "1", "-base-filters", "4", "-patch", "16,16,16", "-val-every", "1", "-backend", "fastcpu", "-quiet",
		"-cpuprofile", filepath.Join(root, "cpu.pprof")}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(run, "model.json")); err != nil || !strings.Contains(strings.Join(strings.Fields(string(b)), ""), `"patch":[16,16,16]`) {
		t.Errorf("model.json should record the -patch override 16,16,16: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "cpu.pprof")); err != nil || fi.Size() == 0 {
		t.Errorf("-cpuprofile wrote no profile: %v", err)
	}
	for _, f := range []string{"model.json", "metrics.csv", "metrics.json", "validation.csv", "validation.json", "fold.json", "predictions"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Error(err)
		}
	}
	// Predict two training images under their own names, then score them.
	in := filepath.Join(root, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	imgs, err := niftiFiles(filepath.Join(set, "imagesTr"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range imgs[:2] {
		if err := os.Symlink(filepath.Join(set, "imagesTr", f), filepath.Join(in, f)); err != nil {
			t.Fatal(err)
		}
	}
	pred := filepath.Join(root, "pred")
	if err := predictCmd([]string{"-model", run, "-in", in, "-out", pred, "-mirror=false", "-backend", "fastcpu"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range imgs[:2] {
		src, err := volume.Read(filepath.Join(in, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := volume.Read(filepath.Join(pred, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := volume.SameGeometry(src, got, 1e-4); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The same model twice is an ensemble that predicts what the model does.
	pred2 := filepath.Join(root, "pred2")
	if err := predictCmd([]string{"-model", run + "," + run, "-in", in, "-out", pred2, "-mirror=false", "-backend", "fastcpu"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range imgs[:2] {
		a, errA := volume.Read(filepath.Join(pred, f))
		b, errB := volume.Read(filepath.Join(pred2, f))
		if errA != nil || errB != nil || !slices.Equal(a.Data, b.Data) {
			t.Errorf("%s: the ensemble of one model twice differs from the model (%v, %v)", f, errA, errB)
		}
	}
	scores := filepath.Join(root, "scores")
	if err := evaluateCmd([]string{"-pred", pred, "-ref", filepath.Join(set, "labelsTr"), "-o", scores}); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(scores + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(csv), "\n"); n < 3 {
		t.Errorf("scores.csv has %d lines:\n%s", n, csv)
	}
	// Postprocessing chosen on these predictions is written into the run and applied by predict.
	ppPath := filepath.Join(run, "postprocessing.json")
	if err := evaluateCmd([]string{"-pred", pred, "-ref", filepath.Join(set, "labelsTr"), "-postprocessing", ppPath}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(ppPath); err != nil || !strings.Contains(string(b), "largest_foreground") {
		t.Fatalf("postprocessing.json: %q, %v", b, err)
	}
	if err := predictCmd([]string{"-model", run, "-in", in, "-out", filepath.Join(root, "pred-pp"), "-mirror=false", "-backend", "fastcpu"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ppPath, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := predictCmd([]string{"-model", run, "-in", in, "-out", filepath.Join(root, "pred-pp"), "-backend", "fastcpu"}); err == nil || !strings.Contains(err.Error(), "postprocessing.json") {
		t.Errorf("corrupt postprocessing.json: %v", err)
	}
	// Bad invocations fail with an error, not a panic.
	if err := trainCmd([]string{"-task", task.Name}); err == nil {
		t.Error("train without -plans/-out should fail")
	}
	for patch, want := range map[string]string{"12,16,16": "multiple of", "16,x,16": "comma-separated", "16,16": "patch_size"} {
		err := trainCmd([]string{"-task", task.Name, "-data", root, "-plans", plansPath, "-out", filepath.Join(root, "bad"), "-patch", patch})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("-patch %s: error %v, want one containing %q", patch, err, want)
		}
	}
	if err := predictCmd([]string{"-model", filepath.Join(root, "nope"), "-in", in, "-out", pred, "-backend", "fastcpu"}); err == nil {
		t.Error("predict with a missing model should fail")
	}
	if err := evaluateCmd([]string{"-pred", pred, "-ref", filepath.Join(root, "nope")}); err == nil {
		t.Error("evaluate with a missing reference folder should fail")
	}
	for labels, want := range map[string]string{"1,x": `bad integer "x"`, "0": "bad label 0"} {
		if err := evaluateCmd([]string{"-pred", pred, "-ref", filepath.Join(set, "labelsTr"), "-labels", labels}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("evaluate -labels %s: error %v, want one containing %q", labels, err, want)
		}
	}
	if err := evaluateCmd([]string{"-pred", pred, "-ref", filepath.Join(set, "labelsTr"), "-labels", "1"}); err != nil {
		t.Errorf("evaluate -labels 1: %v", err)
	}
}
