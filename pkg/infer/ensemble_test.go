package infer

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/msdkit/msdkit/pkg/train"
	"github.com/msdkit/msdkit/pkg/unet"
	"github.com/msdkit/msdkit/pkg/volume"
)

// TestEnsembleAveragesProbabilities: with models giving class-1 probabilities v and 1-v² for a
// voxel of value v, the ensemble labels class 1 where their mean exceeds 1/2 (0 < v < 1), which
// neither model does alone.
func TestEnsembleAveragesProbabilities(t *testing.T) {
	backend := testBackend(t)
	cfg := unet.Config{Dims: 3, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 2}
	member := func(fn func(ctx *context.Context, x *graph.Node) *graph.Node) *Predictor {
		p, err := New(backend, context.New(), cfg, []int{4, 8, 8})
		if err != nil {
			t.Fatal(err)
		}
		p.ProbsFn, p.LabelValues = fn, []int{0, 5}
		return p
	}
	a := member(identity)
	b := member(func(_ *context.Context, x *graph.Node) *graph.Node {
		p1 := graph.OneMinus(graph.Mul(x, x))
		return graph.Concatenate([]*graph.Node{graph.OneMinus(p1), p1}, 1)
	})
	img := randomVolume(rand.New(rand.NewPCG(5, 6)), [3]int{10, 9, 6})
	img.Data[0], img.Data[1] = 0, 1 // both models agree on class 0 at v = 0 and v = 1
	e := &Ensemble{Members: []*Predictor{a, b}}
	got, err := e.PredictCase(img)
	if err != nil {
		t.Fatal(err)
	}
	onlyA, onlyB := 0, 0
	for i, v := range img.Data {
		want := float32(0)
		if (float64(v)+1-float64(v)*float64(v))/2 > 0.5+1e-4 {
			want = 5
		} else if (float64(v)+1-float64(v)*float64(v))/2 > 0.5-1e-4 {
			continue // too close to call in float32
		}
		if got.Data[i] != want {
			t.Fatalf("voxel %d (v=%g): label %g, want %g", i, v, got.Data[i], want)
		}
		if want == 5 && v <= 0.5 {
			onlyA++ // model a alone says 0 here
		}
		if want == 5 && v*v >= 0.5 {
			onlyB++ // model b alone says 0 here
		}
	}
	if onlyA == 0 || onlyB == 0 {
		t.Errorf("the test image does not separate the ensemble from its members (%d, %d voxels)", onlyA, onlyB)
	}
	if _, err := (&Ensemble{}).PredictCase(img); err == nil {
		t.Error("empty ensemble: no error")
	}
}

// TestLoadEnsemble: a one-model ensemble predicts what its model does; models with other classes
// do not form an ensemble; the members' common postprocessing is kept.
func TestLoadEnsemble(t *testing.T) {
	backend := testBackend(t)
	trainRun := func(classes int, seed uint64) string {
		dir := t.TempDir()
		patch := []int{8, 16, 16}
		run, err := train.New(backend, dir, train.ModelInfo{
			Model: unet.Config{Dims: 3, InChannels: 1, NumClasses: classes, BaseFilters: 4, MaxFilters: 8, Levels: 2},
			Patch: patch, Options: train.Options{Steps: 2, Seed: seed, Quiet: true}}, train.NewPhantoms(patch, 1, seed))
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Train(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b, c := trainRun(3, 1), trainRun(3, 2), trainRun(2, 3)
	img := randomVolume(rand.New(rand.NewPCG(7, 8)), [3]int{18, 20, 7})
	single, err := LoadEnsemble(backend, a)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := Load(backend, a)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.PredictCase(img, p.Steps)
	if err != nil {
		t.Fatal(err)
	}
	got, err := single.PredictCase(img)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Data {
		if got.Data[i] != want.Data[i] {
			t.Fatalf("voxel %d: one-model ensemble %g, model %g", i, got.Data[i], want.Data[i])
		}
	}
	pp := Postprocessing{LargestForeground: true}
	for _, dir := range []string{a, b} {
		if err := pp.Save(filepath.Join(dir, PostprocessingFile)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := LoadEnsemble(backend, a, b)
	if err != nil || len(e.Members) != 2 || !e.Postprocessing.LargestForeground {
		t.Fatalf("ensemble of a and b: %v, %+v", err, e)
	}
	if err := os.Remove(filepath.Join(b, PostprocessingFile)); err != nil {
		t.Fatal(err)
	}
	if e, err = LoadEnsemble(backend, a, b); err != nil || e.Postprocessing.LargestForeground {
		t.Fatalf("members with different postprocessing: %v, %+v", err, e.Postprocessing)
	}
	if _, err := LoadEnsemble(backend, a, c); err == nil || !strings.Contains(err.Error(), "not one ensemble") {
		t.Errorf("3-class and 2-class models: %v", err)
	}
	if _, err := LoadEnsemble(backend); err == nil {
		t.Error("no models: no error")
	}
	out := filepath.Join(t.TempDir(), "case.nii.gz")
	in := filepath.Join(t.TempDir(), "case.nii.gz")
	if err := volume.Write(in, img, volume.Float32); err != nil {
		t.Fatal(err)
	}
	if err := e.PredictFile(in, out); err != nil {
		t.Fatal(err)
	}
	if lbl, err := volume.Read(out); err != nil || lbl.Shape != img.Shape {
		t.Errorf("ensemble prediction file: %v", err)
	}
}
