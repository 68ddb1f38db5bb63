// Package fastcpu is a GoMLX CPU backend, registered as "fastcpu", built to train
// convolutional networks (2D/3D U-Nets) on CPUs at speeds close to PyTorch, in pure Go plus the
// assembly GEMM kernels of package gemm.
//
// Importing the package (`import _ "github.com/msdkit/msdkit/pkg/fastcpu"`) registers the backend;
// select it with GOMLX_BACKEND=fastcpu or backends.NewWithConfig("fastcpu"). It is meant to be
// the toolkit's default when no XLA plugin is available (the selection itself lives in the
// toolkit's backend package). The config string after "fastcpu:" is passed to the SimpleGo backend
// used for the remaining ops (e.g. "fastcpu:parallelism=2").
//
// # How it works
//
// The Builder records the computation graph (every op is also built eagerly on a SimpleGo builder
// for shape inference and early, clear errors). Compile partitions it: ops with a native kernel
// (below, float32) run on our code; the remaining ops are grouped into SimpleGo ("go" backend)
// sub-executables. The level of a native call is 1 + the maximum level of its inputs, that of any
// other call the maximum level of its inputs; execution runs, for L = 0, 1, ...: the native calls
// of level L, then one SimpleGo sub-graph with all other calls of level L. Values cross the
// boundaries as SimpleGo shared buffers (BufferData gives the flat Go slice: no copies) and are
// released (or donated to SimpleGo) after their last use. Calls that depend on no parameter
// (constants, iotas and what is computed from them) are rebuilt inside each sub-graph using them.
//
// Native kernels:
//   - ConvGeneral, any axes layout, strides, padding, kernel and input dilations (group counts 1):
//     out[n,o,q] = sum_{c,k} in[n,c,q*s+k*kd-lo] * ker[o,c,k] (input positions on the grid dilated
//     by D). With unit steps along the output (or, for kernel gradients, along the kernel) and no
//     input dilation, the input is zero-padded once and every im2col row is a contiguous slice of it
//     (flat grid); the im2col block is built in cache-sized chunks, each multiplied by the packed
//     kernel with gemm.SgemmStrided, the chunks spread over GOMAXPROCS goroutines. With input
//     dilation (input gradients of strided convolutions) the GEMM comes first and the result is
//     scattered (col2im), so the injected zeros cost nothing. Other cases gather im2col rows directly.
//   - DotGeneral: batched GEMM, operands transposed only when their axes are not already
//     [batch, free, contracting] or [batch, contracting, free].
//   - Add, Sub, Mul, Div, Max, Min, comparisons, Where, Neg, Exp, Log, Sqrt, Abs, BroadcastInDim,
//     Transpose, ReduceSum, ReduceMax: loops over collapsed rows with broadcasting strides, two-way
//     parallel; a BroadcastInDim feeding such ops is folded into them (never materialised).
//
// Gaps of SimpleGo that block CNN training are filled: Reverse and Pad (negative and interior
// padding included) are composed from Slice, Concatenate, Reshape and BroadcastInDim, and
// ConvGeneral arguments are normalised (zero or missing strides and dilations mean 1), which is
// what graph.Convolve's defaults and the gradients of strided convolutions produce.
//
// Unsupported ops or dtypes fail at graph-building time with an error naming the op, never a
// panic; a panic inside a native kernel (a bug) is returned as an error with its stack.
//
// Environment: FASTCPU_ELEMENTWISE=0 runs the elementwise ops on SimpleGo (for comparisons);
// FASTCPU_DEBUG=1 prints, per compiled graph, the ops by kind and where they run. ReadStats gives
// per-kind execution counts, times and the GFLOP/s of the convolution and GEMM kernels.
package fastcpu

import (
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/pkg/errors"
)

// BackendName is the name to use in GOMLX_BACKEND (e.g. GOMLX_BACKEND=fastcpu).
const BackendName = "fastcpu"

func init() {
	backends.Register(BackendName, New)
}

// Backend implements backends.Backend. Buffers are SimpleGo buffers.
type Backend struct {
	backends.Backend // the SimpleGo backend: buffers and fallback execution.
	sg               backends.Backend
	reference        bool // no native kernels
}

var _ backends.Backend = (*Backend)(nil)

// New creates a fastcpu backend. The config string is passed to the SimpleGo backend used for
// the ops we don't run natively (e.g. "parallelism=2"); empty is fine.
//
// The option "reference" (e.g. "fastcpu:reference") disables every native kernel: all ops then run
// on SimpleGo, with the Pad/Reverse compositions and argument normalisation of this package. Tests
// use it as the reference for the native kernels.
func New(config string) (backends.Backend, error) {
	var sgOpts []string
	reference := false
	for _, opt := range strings.Split(config, ",") {
		switch strings.TrimSpace(opt) {
		case "reference":
			reference = true
		case "":
		default:
			sgOpts = append(sgOpts, opt)
		}
	}
	sg, err := simplego.New(strings.Join(sgOpts, ","))
	if err != nil {
		return nil, errors.WithMessage(err, "fastcpu: creating SimpleGo fallback backend (config options other than \"reference\" go to SimpleGo)")
	}
	return &Backend{Backend: sg, sg: sg, reference: reference}, nil
}

// Name implements backends.Backend.
func (b *Backend) Name() string { return "FastCPU (fastcpu)" }

// String implements backends.Backend.
func (b *Backend) String() string { return BackendName }

// Description implements backends.Backend.
func (b *Backend) Description() string {
	return "Fast CPU backend: own GEMM/convolution kernels, SimpleGo for the remaining ops"
}

// Capabilities implements backends.Backend: SimpleGo's plus the ops added here.
func (b *Backend) Capabilities() backends.Capabilities {
	c := b.Backend.Capabilities().Clone()
	c.Operations[backends.OpTypeReverse] = true
	c.Operations[backends.OpTypePad] = true
	return c
}
