// Package fastcpu is a GoMLX CPU backend, registered as "fastcpu", built to train
// convolutional networks (2D/3D U-Nets) on CPUs at speeds close to PyTorch.
//
// Importing the package (`import _ "github.com/msdkit/msdkit/pkg/fastcpu"`) registers the backend;
// select it with GOMLX_BACKEND=fastcpu or backends.NewWithConfig("fastcpu").
//
// Design: the backend records the computation graph. At Compile time the graph is partitioned:
// "heavy" ops (ConvGeneral, DotGeneral) and the ops we implement natively run on our own kernels
// (convolution as im2col + GEMM from package gemm, multi-threaded), and the remaining connected
// pieces are compiled as SimpleGo ("go" backend) sub-executables. Data is passed between the two
// as SimpleGo shared buffers, so no copies are made at the boundaries.
//
// It also fills gaps of SimpleGo that block CNN training:
//   - Reverse and Pad (including negative and interior padding) composed from Slice, Concatenate,
//     Reshape and BroadcastInDim;
//   - ConvGeneral arguments normalised (zero or missing strides and dilations mean 1), which is what
//     graph.Convolve's defaults and the gradients of strided convolutions produce.
//
// Unsupported ops or dtypes fail at graph-building time with an error naming the op, never a panic.
package fastcpu

import (
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
}

var _ backends.Backend = (*Backend)(nil)

// New creates a fastcpu backend. The config string is passed to the SimpleGo backend used for
// the ops we don't run natively (e.g. "parallelism=2"); empty is fine.
func New(config string) (backends.Backend, error) {
	sg, err := simplego.New(config)
	if err != nil {
		return nil, errors.WithMessage(err, "fastcpu: creating SimpleGo fallback backend")
	}
	return &Backend{Backend: sg, sg: sg}, nil
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
