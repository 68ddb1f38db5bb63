package fastcpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestElementwiseAgainstSimpleGo compares the native elementwise ops, broadcasts, transposes and
// reductions with SimpleGo on random inputs, including broadcasting of size-1 axes and scalars.
func TestElementwiseAgainstSimpleGo(t *testing.T) {
	backend := newBackend(t)
	r := rand.New(rand.NewPCG(21, 22))
	type tc struct {
		name string
		a, b []int
		fn   func(a, b *graph.Node) *graph.Node
	}
	big := []int{2, 3, 40, 50} // > minParallelElems: parallel paths
	var cases []tc
	bin := map[string]func(a, b *graph.Node) *graph.Node{
		"Add": graph.Add, "Sub": graph.Sub, "Mul": graph.Mul, "Div": graph.Div, "Max": graph.Max, "Min": graph.Min,
	}
	shapesAB := [][2][]int{
		{{4, 5}, {4, 5}}, {{4, 5}, {1, 5}}, {{4, 5}, {4, 1}}, {{4, 5}, {}}, {{}, {4, 5}},
		{{2, 3, 4, 5}, {2, 3, 1, 1}}, {{2, 1, 4, 1}, {2, 3, 1, 5}}, {big, {2, 3, 1, 1}}, {big, big},
	}
	for _, name := range []string{"Add", "Sub", "Mul", "Div", "Max", "Min"} {
		for _, ab := range shapesAB {
			cases = append(cases, tc{name: fmt.Sprintf("%s%v%v", name, ab[0], ab[1]), a: ab[0], b: ab[1], fn: bin[name]})
		}
	}
	where := func(a, b *graph.Node) *graph.Node {
		return graph.Where(graph.GreaterOrEqual(a, b), a, graph.MulScalar(a, 0.01))
	}
	cases = append(cases,
		tc{"Where/GreaterOrEqual", big, big, where},
		tc{"Where-broadcast-cmp", []int{3, 4}, []int{}, func(a, b *graph.Node) *graph.Node {
			return graph.Where(graph.LessThan(a, b), a, graph.ScalarZero(a.Graph(), dtypes.Float32))
		}},
		tc{"Exp-Log-Sqrt-Abs-Neg", big, []int{}, func(a, _ *graph.Node) *graph.Node {
			return graph.Add(graph.Neg(graph.Exp(a)), graph.Log(graph.Sqrt(graph.AddScalar(graph.Abs(a), 1))))
		}},
		tc{"Sub-explicit-broadcast", big, []int{2, 3, 1, 1}, func(a, b *graph.Node) *graph.Node {
			return graph.Sub(a, graph.BroadcastToDims(b, big...))
		}},
		tc{"Mul-explicit-broadcast-prefix", []int{3, 50}, []int{50}, func(a, b *graph.Node) *graph.Node {
			return graph.Mul(graph.BroadcastPrefix(b, 3), a)
		}},
		tc{"Transpose", []int{2, 3, 4, 5}, []int{}, func(a, _ *graph.Node) *graph.Node { return graph.TransposeAllDims(a, 0, 3, 1, 2) }},
		tc{"Transpose-gather", big, []int{}, func(a, _ *graph.Node) *graph.Node { return graph.TransposeAllDims(a, 1, 0, 2, 3) }},
		tc{"Transpose-big", big, []int{}, func(a, _ *graph.Node) *graph.Node { return graph.TransposeAllDims(a, 3, 1, 0, 2) }},
		tc{"BroadcastToDims", []int{1, 3, 1, 50}, []int{}, func(a, _ *graph.Node) *graph.Node { return graph.BroadcastToDims(a, 2, 3, 40, 50) }},
		tc{"BroadcastPrefix", []int{50}, []int{}, func(a, _ *graph.Node) *graph.Node { return graph.BroadcastPrefix(a, 2, 3) }},
	)
	for _, axes := range [][]int{{0}, {1}, {3}, {2, 3}, {0, 2, 3}, {1, 2}, {0, 1, 2, 3}} {
		cases = append(cases,
			tc{fmt.Sprintf("ReduceSum%v", axes), big, []int{}, func(a, _ *graph.Node) *graph.Node { return graph.ReduceSum(a, axes...) }},
			tc{fmt.Sprintf("ReduceMax%v", axes), []int{2, 3, 4, 5}, []int{}, func(a, _ *graph.Node) *graph.Node { return graph.ReduceMax(a, axes...) }},
		)
	}
	folded := foldedBroadcasts.Load()
	defer func() {
		if foldedBroadcasts.Load() == folded {
			t.Error("no BroadcastInDim was folded into its consumer")
		}
	}()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			av, bv := randFlat(r, prod(c.a)), randFlat(r, prod(c.b))
			before := nativeRuns.Load()
			got, err := graph.ExecOnce(backend, c.fn, tensors.FromFlatDataAndDimensions(av, c.a...), tensors.FromFlatDataAndDimensions(bv, c.b...))
			if err != nil {
				t.Fatal(err)
			}
			if nativeRuns.Load() == before {
				t.Fatal("no native op ran")
			}
			want, err := graph.ExecOnce(simpleGoBackend, c.fn, tensors.FromFlatDataAndDimensions(av, c.a...), tensors.FromFlatDataAndDimensions(bv, c.b...))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
				t.Fatalf("shape %s, SimpleGo %s", got.Shape(), want.Shape())
			}
			assertClose(t, tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want))
		})
	}
}
