package fastcpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	timage "github.com/gomlx/gomlx/pkg/core/tensors/images"
)

func newBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig(BackendName)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randFlat(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func prod(d []int) int {
	p := 1
	for _, x := range d {
		p *= x
	}
	return p
}

// convCase describes one graph.Convolve configuration for tests.
type convCase struct {
	name         string
	xDims, kDims []int // input and kernel dimensions in the layout given by channelsFirst
	channelsLast bool
	stride       int
	padSame      bool
	dilation     int
	evenKernel   bool // GoMLX v0.26 input-gradient is wrong for even kernels: only kernel gradient checked
}

func (c convCase) build(x, k *graph.Node) *graph.Node {
	conv := graph.Convolve(x, k)
	if c.channelsLast {
		conv = conv.ChannelsAxis(timage.ChannelsLast)
	} else {
		conv = conv.ChannelsAxis(timage.ChannelsFirst)
	}
	if c.stride > 1 {
		conv = conv.Strides(c.stride)
	}
	if c.dilation > 1 {
		conv = conv.Dilations(c.dilation)
	}
	if c.padSame {
		conv = conv.PadSame()
	}
	return conv.Done()
}

var gradCases = []convCase{
	{name: "3d-cf-s1-same", xDims: []int{2, 2, 5, 6, 4}, kDims: []int{3, 2, 3, 3, 3}, padSame: true},
	{name: "3d-cf-s2-same", xDims: []int{2, 2, 6, 5, 7}, kDims: []int{3, 2, 3, 3, 3}, stride: 2, padSame: true},
	{name: "3d-cf-1x1", xDims: []int{1, 3, 4, 4, 4}, kDims: []int{8, 3, 1, 1, 1}},
	{name: "2d-cf-s2-valid", xDims: []int{2, 3, 9, 8}, kDims: []int{4, 3, 3, 3}, stride: 2},
	{name: "2d-cf-even-kernel", xDims: []int{1, 2, 8, 6}, kDims: []int{3, 2, 2, 2}, stride: 2, evenKernel: true},
	{name: "2d-cl-s1-same", xDims: []int{2, 7, 6, 3}, kDims: []int{3, 3, 3, 4}, channelsLast: true, padSame: true},
	{name: "2d-cf-dil2", xDims: []int{1, 2, 9, 9}, kDims: []int{2, 2, 3, 3}, dilation: 2, padSame: true},
}

// TestConvGradientsFiniteDifference checks the gradients of loss = sum(conv(x,k) * w) against
// central finite differences, on the fastcpu backend.
func TestConvGradientsFiniteDifference(t *testing.T) {
	backend := newBackend(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range gradCases {
		t.Run(c.name, func(t *testing.T) {
			xv, kv := randFlat(r, prod(c.xDims)), randFlat(r, prod(c.kDims))
			xT := tensors.FromFlatDataAndDimensions(xv, c.xDims...)
			kT := tensors.FromFlatDataAndDimensions(kv, c.kDims...)
			// Output shape, then random weights w.
			outT := graph.MustExecOnce(backend, func(x, k *graph.Node) *graph.Node { return c.build(x, k) }, xT, kT)
			wv := randFlat(r, outT.Shape().Size())
			wT := tensors.FromFlatDataAndDimensions(wv, outT.Shape().Dimensions...)
			lossExec := graph.MustNewExec(backend, func(x, k, w *graph.Node) *graph.Node {
				return graph.ReduceAllSum(graph.Mul(c.build(x, k), w))
			})
			gradExec := graph.MustNewExec(backend, func(x, k, w *graph.Node) []*graph.Node {
				loss := graph.ReduceAllSum(graph.Mul(c.build(x, k), w))
				return graph.Gradient(loss, x, k)
			})
			grads := gradExec.MustExec(xT, kT, wT)
			gx := tensors.MustCopyFlatData[float32](grads[0])
			gk := tensors.MustCopyFlatData[float32](grads[1])
			lossAt := func(x, k []float32) float64 {
				out := lossExec.MustExec(tensors.FromFlatDataAndDimensions(x, c.xDims...),
					tensors.FromFlatDataAndDimensions(k, c.kDims...), wT)
				return float64(tensors.MustCopyFlatData[float32](out[0])[0])
			}
			const eps = 0.05
			check := func(which string, v []float32, g []float32, f func([]float32) float64) {
				for range 6 {
					i := r.IntN(len(v))
					orig := v[i]
					v[i] = orig + eps
					lp := f(v)
					v[i] = orig - eps
					lm := f(v)
					v[i] = orig
					fd := (lp - lm) / (2 * eps)
					if math.IsNaN(float64(g[i])) || math.Abs(fd-float64(g[i])) > 2e-2*(1+math.Abs(fd)) {
						t.Errorf("d loss/d %s[%d]: gradient %g, finite difference %g", which, i, g[i], fd)
					}
				}
			}
			if !c.evenKernel {
				check("x", xv, gx, func(x []float32) float64 { return lossAt(x, kv) })
			}
			check("k", kv, gk, func(k []float32) float64 { return lossAt(xv, k) })
		})
	}
}

// TestPadReverse checks Pad (positive, negative and interior) and Reverse against direct Go loops.
func TestPadReverse(t *testing.T) {
	backend := newBackend(t)
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	got := graph.MustExecOnce(backend, func(x *graph.Node) *graph.Node { return graph.Reverse(x, 0, 1) }, x)
	if fmt.Sprint(got.Value()) != "[[6 5 4] [3 2 1]]" {
		t.Errorf("Reverse: got %v", got.Value())
	}
	got = graph.MustExecOnce(backend, func(x *graph.Node) *graph.Node {
		return graph.Pad(x, graph.Const(x.Graph(), float32(9)),
			backends.PadAxis{Start: 1, End: -1, Interior: 0}, backends.PadAxis{Start: -1, End: 2, Interior: 1})
	}, x)
	// Axis 0: [9-row, row0] (row1 dropped); axis 1: [a,b,c] -> [a,9,b,9,c] -> drop first -> [9,b,9,c] + [9,9].
	want := "[[9 9 9 9 9 9] [9 2 9 3 9 9]]"
	if fmt.Sprint(got.Value()) != want {
		t.Errorf("Pad: got %v, want %s", got.Value(), want)
	}
}

// TestAgainstSimpleGo compares forward convolutions with SimpleGo given explicit (valid) arguments.
func TestConvForwardAgainstSimpleGo(t *testing.T) {
	backend := newBackend(t)
	sg, err := simplego.New("")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range gradCases {
		t.Run(c.name, func(t *testing.T) {
			xv, kv := randFlat(r, prod(c.xDims)), randFlat(r, prod(c.kDims))
			xT := tensors.FromFlatDataAndDimensions(xv, c.xDims...)
			kT := tensors.FromFlatDataAndDimensions(kv, c.kDims...)
			fn := func(x, k *graph.Node) *graph.Node { return c.build(x, k) }
			got := tensors.MustCopyFlatData[float32](graph.MustExecOnce(backend, fn, xT, kT))
			xT = tensors.FromFlatDataAndDimensions(xv, c.xDims...)
			kT = tensors.FromFlatDataAndDimensions(kv, c.kDims...)
			explicit := c
			if explicit.stride == 0 {
				explicit.stride = 1
			}
			want := tensors.MustCopyFlatData[float32](graph.MustExecOnce(sg, func(x, k *graph.Node) *graph.Node {
				conv := graph.Convolve(x, k).Strides(explicit.stride)
				if c.channelsLast {
					conv = conv.ChannelsAxis(timage.ChannelsLast)
				} else {
					conv = conv.ChannelsAxis(timage.ChannelsFirst)
				}
				if c.dilation > 1 {
					conv = conv.Dilations(c.dilation)
				} else {
					conv = conv.Dilations(1)
				}
				if c.padSame {
					conv = conv.PadSame()
				}
				return conv.Done()
			}, xT, kT))
			assertClose(t, got, want)
		})
	}
}

func assertClose(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("length %d, want %d", len(got), len(want))
	}
	var scale float64
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range got {
		if math.IsNaN(float64(got[i])) || math.Abs(float64(got[i]-want[i])) > 1e-5*(1+scale) {
			t.Fatalf("element %d: got %g, want %g (max |want| %g)", i, got[i], want[i], scale)
		}
	}
}

// TestMergedSubGraphOutputs: two recorded values a SimpleGo sub-graph hands out can be one
// SimpleGo op (Reverse over size-1 axes is composed as its input; bf16 convolution gradients of 1x1x1
// kernels did this); each still gets its own buffer.
func TestMergedSubGraphOutputs(t *testing.T) {
	b := newBackend(t)
	x := tensors.FromFlatDataAndDimensions([]float64{1, 2, 3.5, -4}, 4, 1, 1)
	outs := graph.MustExecOnceN(b, func(x *graph.Node) []*graph.Node {
		a := graph.AddScalar(x, 1)
		r := graph.Reverse(a, 1, 2)
		return []*graph.Node{graph.MulScalar(a, 2), r, a}
	}, x)
	want := [][]float64{{4, 6, 9, -6}, {2, 3, 4.5, -3}, {2, 3, 4.5, -3}}
	for i, o := range outs {
		got := tensors.MustCopyFlatData[float64](o)
		for j := range got {
			if got[j] != want[i][j] {
				t.Fatalf("output %d = %v, want %v", i, got, want[i])
			}
		}
	}
}
