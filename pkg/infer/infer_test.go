package infer

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	_ "github.com/msdkit/msdkit/pkg/fastcpu"
	"github.com/msdkit/msdkit/pkg/train"
	"github.com/msdkit/msdkit/pkg/unet"
	"github.com/msdkit/msdkit/pkg/volume"
)

func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig("fastcpu")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTileStarts(t *testing.T) {
	for _, tc := range []struct {
		size, patch int
		overlap     float64
		want        []int
	}{
		{10, 16, 0.5, []int{0}},
		{16, 16, 0.5, []int{0}},
		{24, 16, 0.5, []int{0, 8}},
		{25, 16, 0.5, []int{0, 5, 9}},
		{40, 16, 0.5, []int{0, 8, 16, 24}},
		{5, 1, 0.5, []int{0, 1, 2, 3, 4}},
	} {
		got := TileStarts(tc.size, tc.patch, tc.overlap)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("TileStarts(%d, %d, %g) = %v, want %v", tc.size, tc.patch, tc.overlap, got, tc.want)
		}
		// Coverage and overlap: consecutive tiles overlap by at least overlap*patch.
		for i := 1; i < len(got); i++ {
			if got[i]-got[i-1] > max(1, int(float64(tc.patch)*(1-tc.overlap))) {
				t.Errorf("tiles %v overlap less than %g", got, tc.overlap)
			}
		}
		if last := got[len(got)-1]; tc.size > tc.patch && last+tc.patch != tc.size {
			t.Errorf("tiles %v do not end at %d", got, tc.size)
		}
	}
}

func TestGaussianMap(t *testing.T) {
	patch := [3]int{4, 6, 8}
	w := GaussianMap(patch, 1.0/8)
	maxW, minW := float32(0), float32(2)
	for _, v := range w {
		maxW, minW = max(maxW, v), min(minW, v)
	}
	if maxW != 1 || minW <= 0 {
		t.Errorf("weights in [%g, %g], want max 1 and min > 0", minW, maxW)
	}
	// Symmetric under flipping each axis.
	at := func(z, y, x int) float32 { return w[(z*patch[1]+y)*patch[2]+x] }
	for z := range patch[0] {
		for y := range patch[1] {
			for x := range patch[2] {
				if at(z, y, x) != at(patch[0]-1-z, y, x) || at(z, y, x) != at(z, patch[1]-1-y, patch[2]-1-x) {
					t.Fatalf("not symmetric at %d,%d,%d", z, y, x)
				}
			}
		}
	}
	// Centre weight exceeds corner weight; sigma = patch/8 makes corners tiny but positive.
	if at(2, 3, 4) <= at(0, 0, 0) {
		t.Error("centre not heavier than corner")
	}
	for _, v := range GaussianMap(patch, -1) {
		if v != 1 {
			t.Fatal("uniform map not 1")
		}
	}
}

// identity maps a one-channel tile x in [0, 1] to probabilities (1-x, x): the reassembled class-1
// probability must equal the input wherever tiles overlap, whatever the weights.
func identity(_ *context.Context, x *graph.Node) *graph.Node {
	return graph.Concatenate([]*graph.Node{graph.OneMinus(x), x}, 1)
}

func randomVolume(rng *rand.Rand, shape [3]int) *volume.Volume {
	v := volume.New(shape, 1, [3]float64{1, 1, 1})
	for i := range v.Data {
		v.Data[i] = rng.Float32()
	}
	return v
}

// TestSlidingWindowReassemblesExactly checks tiling, padding, weighting, cropping and mirroring
// with an identity-like model, for 3D and 2D patches.
func TestSlidingWindowReassemblesExactly(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	cfg3 := unet.Config{Dims: 3, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 2}
	cfg2 := unet.Config{Dims: 2, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 2}
	for _, tc := range []struct {
		name   string
		cfg    unet.Config
		patch  []int
		shape  [3]int // x, y, z
		mirror bool
	}{
		{"3D", cfg3, []int{4, 8, 6}, [3]int{13, 9, 3}, false},
		{"3D-mirror", cfg3, []int{4, 8, 6}, [3]int{7, 17, 6}, true},
		{"2D", cfg2, []int{8, 8}, [3]int{11, 6, 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(backend, context.New(), tc.cfg, tc.patch)
			if err != nil {
				t.Fatal(err)
			}
			p.ProbsFn, p.Mirror, p.BatchSize = identity, tc.mirror, 3
			calls := 0
			p.Progress = func(done, total int) { calls++ }
			img := randomVolume(rng, tc.shape)
			img.Affine[0][3] = 5
			probs, err := p.Probabilities(img)
			if err != nil {
				t.Fatal(err)
			}
			if probs.Shape != img.Shape || probs.Channels != 2 || probs.Affine != img.Affine {
				t.Fatalf("geometry changed: %v %d %v", probs.Shape, probs.Channels, probs.Affine)
			}
			n := img.NumVoxels()
			for i, v := range img.Data {
				if d := math.Abs(float64(probs.Data[n+i] - v)); d > 1e-5 {
					t.Fatalf("voxel %d: %g, want %g", i, probs.Data[n+i], v)
				}
				if d := math.Abs(float64(probs.Data[i] + probs.Data[n+i] - 1)); d > 1e-5 {
					t.Fatalf("voxel %d: probabilities sum to %g", i, probs.Data[i]+probs.Data[n+i])
				}
			}
			if calls == 0 {
				t.Error("no progress reported")
			}
		})
	}
}

func TestProbabilitiesRejectsBadInput(t *testing.T) {
	p, err := New(testBackend(t), context.New(), unet.Config{Dims: 3, InChannels: 2, NumClasses: 2, BaseFilters: 2, Levels: 2}, []int{4, 4, 4})
	if err != nil {
		t.Fatal(err)
	}
	p.ProbsFn = identity
	if _, err := p.Probabilities(volume.New([3]int{4, 4, 4}, 1, [3]float64{1, 1, 1})); err == nil {
		t.Error("expected a channel mismatch error")
	}
	if _, err := New(testBackend(t), context.New(), unet.Config{Dims: 3, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 3}, []int{6, 4, 4}); err == nil {
		t.Error("expected an error for a patch not divisible by 4")
	}
}

// TestPredictCaseBackToOriginalGeometry runs the full case path (reorientation, crop, identity
// model, inverse mapping) on an LPS image: the label map must be the thresholded image exactly,
// in the image's own grid and affine.
func TestPredictCaseBackToOriginalGeometry(t *testing.T) {
	shape := [3]int{20, 14, 9}
	img := volume.New(shape, 1, [3]float64{1, 1, 2})
	img.Affine[0][0], img.Affine[1][1] = -1, -1 // LPS
	img.Affine[0][3], img.Affine[1][3], img.Affine[2][3] = 30, 20, -5
	for z := 1; z < 8; z++ {
		for y := 2; y < 12; y++ {
			for x := 3; x < 17; x++ {
				v := float32(0.25) // body: class 0
				if (x-9)*(x-9)+(y-6)*(y-6) < 10 && z > 2 && z < 6 {
					v = 1 // organ: class 1
				}
				img.Data[img.Index(x, y, z)] = v
			}
		}
	}
	p, err := New(testBackend(t), context.New(), unet.Config{Dims: 3, InChannels: 1, NumClasses: 2, BaseFilters: 2, Levels: 2}, []int{4, 8, 8})
	if err != nil {
		t.Fatal(err)
	}
	p.ProbsFn, p.LabelValues = identity, []int{0, 3}
	lbl, err := p.PredictCase(img, volume.Steps{Orientation: "RAS", CropNonzero: true})
	if err != nil {
		t.Fatal(err)
	}
	if lbl.Shape != img.Shape || lbl.Affine != img.Affine || lbl.Channels != 1 {
		t.Fatalf("geometry %v %v, want %v %v", lbl.Shape, lbl.Affine, img.Shape, img.Affine)
	}
	for i, v := range img.Data {
		want := float32(0)
		if v > 0.5 {
			want = 3
		}
		if lbl.Data[i] != want {
			t.Fatalf("voxel %d: label %g, want %g", i, lbl.Data[i], want)
		}
	}
}

// TestPredictFileWithTrainedModel trains a tiny model briefly, then predicts a NIfTI file through
// Load/PredictFile: the output has the input's geometry and file name.
func TestPredictFileWithTrainedModel(t *testing.T) {
	backend := testBackend(t)
	dir := t.TempDir()
	patch := []int{8, 16, 16}
	run, err := train.New(backend, dir, train.ModelInfo{
		Model: unet.Config{Dims: 3, InChannels: 1, NumClasses: 3, BaseFilters: 4, MaxFilters: 8, Levels: 2},
		Patch: patch, Options: train.Options{Steps: 2, Quiet: true}}, train.NewPhantoms(patch, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(); err != nil {
		t.Fatal(err)
	}
	p, info, err := Load(backend, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Patch, patch) {
		t.Errorf("patch %v", info.Patch)
	}
	src := randomVolume(rand.New(rand.NewPCG(3, 4)), [3]int{18, 20, 7})
	src.Spacing = [3]float64{1, 1, 1.5}
	src.Affine[2][2] = 1.5
	in := filepath.Join(dir, "case_001.nii.gz")
	if err := volume.Write(in, src, volume.Float32); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pred", "case_001.nii.gz")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := p.PredictFile(in, out, volume.Steps{}); err != nil {
		t.Fatal(err)
	}
	got, err := volume.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Shape != src.Shape || got.Affine != src.Affine {
		t.Errorf("prediction geometry %v %v, want %v %v", got.Shape, got.Affine, src.Shape, src.Affine)
	}
	for _, v := range got.Data {
		if v < 0 || v > 2 || v != float32(int(v)) {
			t.Fatalf("label value %g", v)
		}
	}
	if err := p.PredictFile(filepath.Join(dir, "missing.nii.gz"), out, volume.Steps{}); err == nil {
		t.Error("expected an error for a missing input")
	}
}
