package infer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/train"
	"github.com/msdkit/msdkit/pkg/volume"
)

// realRoot returns the shared data root holding Task04, or skips.
func realRoot(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real-data run skipped under -short")
	}
	root := os.Getenv("MSD_DATA")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(root, "Task04_Hippocampus", "dataset.json")); err != nil {
		t.Skip("Task04_Hippocampus not found under", root)
	}
	return root
}

// TestTinyRealRun runs the whole pipeline on a few Task04 cases: fingerprint, plans, preprocessing,
// a few training steps, sliding-window evaluation of the validation cases, and prediction of an
// original file back in its own geometry.
func TestTinyRealRun(t *testing.T) {
	root := realRoot(t)
	ds, err := msd.Open(root, "Task04_Hippocampus")
	if err != nil {
		t.Fatal(err)
	}
	in := fingerprint.FromDataset(ds)
	in.Cases = in.Cases[:12]
	fp, err := fingerprint.Compute(in, fingerprint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plans.Make(fp, plans.Options{Budget: "CPU RAM 2 GB", BaseFilters: 4})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	dir := filepath.Join(work, "run")
	backend := testBackend(t)
	exp, err := train.NewExperiment(backend, train.ExperimentConfig{DataRoot: root, WorkRoot: work, Task: "Task04_Hippocampus",
		Plans: p, Dir: dir, MaxCases: 4, ValPatches: 1,
		Options: train.Options{Steps: 3, BatchSize: 1, Quiet: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.TrainIDs) != 4 || len(exp.ValCases) != 1 {
		t.Fatalf("%d training, %d validation cases", len(exp.TrainIDs), len(exp.ValCases))
	}
	if err := exp.Run.Train(); err != nil {
		t.Fatal(err)
	}
	pred, info, err := Load(backend, dir)
	if err != nil {
		t.Fatal(err)
	}
	table, err := pred.EvaluateCases(exp.ValCases, metrics.Options{Labels: []int{1, 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) != 1 || len(table.Mean) != 2 {
		t.Fatalf("table %+v", table)
	}
	c, err := ds.Case(exp.Fold.Val[0])
	if err != nil {
		t.Fatal(err)
	}
	var steps volume.Steps
	if err := json.Unmarshal(info.Preprocessing, &steps); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "pred.nii.gz")
	if err := pred.PredictFile(c.Image, out, steps); err != nil {
		t.Fatal(err)
	}
	src, err := volume.Read(c.Image)
	if err != nil {
		t.Fatal(err)
	}
	got, err := volume.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Shape != src.Shape || volume.SameGeometry(got, src, 1e-4) != nil {
		t.Errorf("prediction geometry %v %v, source %v %v", got.Shape, got.Affine, src.Shape, src.Affine)
	}
}
