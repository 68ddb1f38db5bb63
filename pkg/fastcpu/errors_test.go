package fastcpu

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// TestClearErrors checks that unsupported ops, bad arguments and foreign ops give errors naming the
// problem instead of panics.
func TestClearErrors(t *testing.T) {
	backend := newBackend(t)
	b := backend.Builder("errors")
	x, err := b.Parameter("x", shapes.Make(dtypes.Float32, 2, 3, 4, 4), nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error, want string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: expected an error", what)
			return
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not mention %q", what, err, want)
		}
	}
	_, err = b.SelectAndScatterMax(x, x, []int{1, 1, 2, 2}, []int{1, 1, 2, 2}, nil)
	check("SelectAndScatterMax", err, "SelectAndScatterMax")
	_, err = b.FFT(x, backends.FFTForward, []int{4})
	check("FFT", err, "FFT")
	k, _ := b.Parameter("k", shapes.Make(dtypes.Float32, 5, 3, 3, 3), nil)
	_, err = b.ConvGeneral(x, k, backends.ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}}, []int{1, 1, 1}, nil, nil, nil, 1, 1)
	check("ConvGeneral strides", err, "strides")
	_, err = b.Pad(x, x)
	check("Pad fill", err, "scalar")
	_, err = b.Add(x, "not an op")
	check("foreign op", err, "not created by a fastcpu builder")
	other := backend.Builder("other")
	y, _ := other.Parameter("y", shapes.Make(dtypes.Float32, 2, 3, 4, 4), nil)
	_, err = b.Add(x, y)
	check("op of another builder", err, "used in builder")
	// Int32 convolutions are not native: they run (or fail cleanly) on SimpleGo.
	xi, _ := b.Parameter("xi", shapes.Make(dtypes.Int32, 1, 1, 4), nil)
	ki, _ := b.Parameter("ki", shapes.Make(dtypes.Int32, 1, 1, 3), nil)
	_, _ = b.ConvGeneral(xi, ki, backends.ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2}}, nil, nil, nil, nil, 1, 1)
	// Executing with a wrong input shape.
	sum, err := b.ReduceSum(x)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := b.Compile([]backends.Op{sum}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := backend.BufferFromFlatData(0, make([]float32, 4), shapes.Make(dtypes.Float32, 4))
	if err != nil {
		t.Fatal(err)
	}
	params, _ := exec.Inputs()
	inputs := make([]backends.Buffer, len(params))
	for i := range inputs {
		inputs[i] = wrong
	}
	_, err = exec.Execute(inputs, nil, 0)
	check("Execute with wrong shapes", err, "shape")
	_, err = b.Add(x, x)
	check("building after Compile", err, "already compiled")
	exec.Finalize()
	_, err = exec.Execute(inputs, nil, 0)
	check("Execute after Finalize", err, "finalized")
}
