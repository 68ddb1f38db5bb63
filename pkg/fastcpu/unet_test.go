package fastcpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/msdkit/msdkit/pkg/unet"
)

// unetLossAndGrads runs a small U-Net (Dice+CE loss) on backend and returns the loss followed by
// the gradients of every variable, sorted by scope and name.
func unetLossAndGrads(t *testing.T, backend backends.Backend, cfg unet.Config, x []float32, xDims []int, y []int32, yDims []int) (names []string, out [][]float32) {
	t.Helper()
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(42); err != nil {
		t.Fatal(err)
	}
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, x, y *graph.Node) []*graph.Node {
		logits := unet.Build(ctx, cfg, x)
		loss := unet.DiceCELoss(y, logits, cfg.NumClasses)
		var vars []*context.Variable
		for v := range ctx.IterVariables() {
			if v.Trainable {
				vars = append(vars, v)
			}
		}
		sort.Slice(vars, func(i, j int) bool { return vars[i].ScopeAndName() < vars[j].ScopeAndName() })
		nodes := make([]*graph.Node, len(vars))
		names = names[:0]
		for i, v := range vars {
			nodes[i] = v.ValueGraph(x.Graph())
			names = append(names, v.ScopeAndName())
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, nodes...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, xDims...), tensors.FromFlatDataAndDimensions(y, yDims...))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		out = append(out, tensors.MustCopyFlatData[float32](r))
	}
	return names, out
}

// TestUNetGradientsAgainstReference compares loss and all weight gradients of small 2D and 3D
// U-Nets (strided convs, pixel-shuffle up, instance norm, leaky ReLU, Dice+CE) computed with the
// native kernels against the SimpleGo reference ("fastcpu:reference").
func TestUNetGradientsAgainstReference(t *testing.T) {
	fast := newBackend(t)
	ref, err := backends.NewWithConfig(BackendName + ":reference")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		cfg   unet.Config
		patch []int
	}{
		{"3d", unet.Config{Dims: 3, InChannels: 1, NumClasses: 3, BaseFilters: 4, MaxFilters: 16, Levels: 3}, []int{8, 12, 8}},
		{"2d", unet.Config{Dims: 2, InChannels: 2, NumClasses: 2, BaseFilters: 4, MaxFilters: 16, Levels: 3}, []int{12, 16}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(31, 32))
			batch := 2
			xDims := append([]int{batch, c.cfg.InChannels}, c.patch...)
			yDims := append([]int{batch, 1}, c.patch...)
			x := randFlat(r, prod(xDims))
			y := make([]int32, prod(yDims))
			for i := range y {
				y[i] = int32(r.IntN(c.cfg.NumClasses))
			}
			before := nativeRuns.Load()
			names, got := unetLossAndGrads(t, fast, c.cfg, x, xDims, y, yDims)
			if nativeRuns.Load() == before {
				t.Fatal("no native kernel ran")
			}
			namesRef, want := unetLossAndGrads(t, ref, c.cfg, x, xDims, y, yDims)
			if !slices.Equal(names, namesRef) || len(got) != len(want) {
				t.Fatalf("variables differ: %v vs %v", names, namesRef)
			}
			for i := range got {
				label := "loss"
				if i > 0 {
					label = "d/d " + names[i-1]
				}
				var scale, maxErr float64
				for j := range want[i] {
					scale = max(scale, math.Abs(float64(want[i][j])))
				}
				for j := range got[i] {
					if math.IsNaN(float64(got[i][j])) {
						t.Fatalf("%s: NaN at %d", label, j)
					}
					maxErr = max(maxErr, math.Abs(float64(got[i][j]-want[i][j])))
				}
				if maxErr > 1e-4*scale+1e-7 {
					t.Errorf("%s: max abs difference %g (max |value| %g)", label, maxErr, scale)
				}
			}
		})
	}
}
