package fastcpu

//go:generate go run ./internal/genops

import (
	"fmt"
	"reflect"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/notimplemented"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// buildFn replays one recorded op on a backends.Builder (the SimpleGo shape builder or a sub-graph
// builder), given that builder's ops for the inputs.
type buildFn func(sb backends.Builder, in []backends.Op) ([]backends.Op, error)

// nativeFn executes an op with our kernels: in are the flat inputs (Go slices of SimpleGo shared
// buffers), out is the (uninitialised) flat output.
type nativeFn func(in []any, out any) error

// f32Native adapts a float32-only kernel.
func f32Native(fn func(in [][]float32, out []float32) error) nativeFn {
	return func(in []any, out any) error {
		f := make([][]float32, len(in))
		for i, x := range in {
			f[i] = x.([]float32)
		}
		return fn(f, out.([]float32))
	}
}

// call is one recorded op.
type call struct {
	idx      int
	name     string
	inputs   []*value
	build    buildFn
	outputs  []*value
	native   nativeFn // non-nil: executed by our kernels (single output).
	paramIdx int      // >= 0 for Parameter calls.
	flops    float64  // of the native execution, for statistics.
	// rebuild recreates the native kernel of an elementwise call for given operand strides (as
	// seen from the output); bcastAxes marks a native BroadcastInDim (see foldBroadcasts).
	rebuild   func(st [][]int) nativeFn
	bcastAxes []int
	// Set during compilation.
	free  bool // depends on no parameter and is not native: rebuilt in each sub-graph that uses it.
	level int
}

// value is one output of a call: the backends.Op handed to GoMLX.
type value struct {
	b     *Builder
	call  *call
	shape shapes.Shape
	sgOp  backends.Op // op in the shape builder.
	id    int         // slot index during execution.
}

// Builder implements backends.Builder: it records the graph (and builds it eagerly on a SimpleGo
// builder, for shape inference and early errors); Compile partitions it.
type Builder struct {
	notimplemented.Builder // distributed and collective ops: not supported.
	backend                *Backend
	name                   string
	shapeB                 backends.Builder
	calls                  []*call
	params                 []*value
	numValues              int
	compiled               bool
}

var _ backends.Builder = (*Builder)(nil)

// Builder implements backends.Backend.
func (b *Backend) Builder(name string) backends.Builder {
	bl := &Builder{backend: b, name: name, shapeB: b.sg.Builder(name)}
	bl.Builder.ErrFn = func(op backends.OpType) error {
		return errors.Wrapf(notimplemented.NotImplementedError, "fastcpu: op %q not implemented", op)
	}
	return bl
}

// Name implements backends.Builder.
func (b *Builder) Name() string { return b.name }

// OpShape implements backends.Builder.
func (b *Builder) OpShape(op backends.Op) (shapes.Shape, error) {
	v, err := b.toValue(op)
	if err != nil {
		return shapes.Invalid(), err
	}
	return v.shape, nil
}

func (b *Builder) toValue(op backends.Op) (*value, error) {
	v, ok := op.(*value)
	if !ok || v == nil {
		return nil, errors.Errorf("fastcpu: op %v (%T) was not created by a fastcpu builder", op, op)
	}
	if v.b != b {
		return nil, errors.Errorf("fastcpu: op from builder %q used in builder %q", v.b.name, b.name)
	}
	return v, nil
}

// record adds a call whose outputs are computed by build (also used right away on the shape builder).
func (b *Builder) record(name string, ins []backends.Op, numOuts int, build buildFn) ([]backends.Op, error) {
	if b.compiled {
		return nil, errors.Errorf("fastcpu: builder %q already compiled, cannot add %s", b.name, name)
	}
	c := &call{idx: len(b.calls), name: name, build: build, paramIdx: -1}
	sgIns := make([]backends.Op, len(ins))
	for i, op := range ins {
		v, err := b.toValue(op)
		if err != nil {
			return nil, errors.WithMessagef(err, "fastcpu: input #%d of %s", i, name)
		}
		c.inputs = append(c.inputs, v)
		sgIns[i] = v.sgOp
	}
	sgOuts, err := build(b.shapeB, sgIns)
	if err != nil {
		return nil, errors.WithMessagef(err, "fastcpu: %s", name)
	}
	if len(sgOuts) != numOuts {
		return nil, errors.Errorf("fastcpu: %s returned %d outputs, expected %d", name, len(sgOuts), numOuts)
	}
	outs := make([]backends.Op, numOuts)
	for i, sgOp := range sgOuts {
		s, err := b.shapeB.OpShape(sgOp)
		if err != nil {
			return nil, errors.WithMessagef(err, "fastcpu: %s output shape", name)
		}
		v := &value{b: b, call: c, shape: s, sgOp: sgOp, id: b.numValues}
		b.numValues++
		c.outputs = append(c.outputs, v)
		outs[i] = v
	}
	b.calls = append(b.calls, c)
	attachNative(c)
	return outs, nil
}

// Parameter implements backends.Builder.
func (b *Builder) Parameter(name string, shape shapes.Shape, sharding *backends.ShardingSpec) (backends.Op, error) {
	if sharding != nil {
		return nil, errors.Errorf("fastcpu: sharding not supported (parameter %q)", name)
	}
	idx := len(b.params)
	outs, err := b.record("Parameter", nil, 1, func(sb backends.Builder, _ []backends.Op) ([]backends.Op, error) {
		o, err := sb.Parameter(name, shape, nil)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	v := outs[0].(*value)
	v.call.paramIdx = idx
	b.params = append(b.params, v)
	return v, nil
}

// Constant implements backends.Builder. The flat data is copied.
func (b *Builder) Constant(flat any, dims ...int) (backends.Op, error) {
	fv := reflect.ValueOf(flat)
	if fv.Kind() != reflect.Slice {
		return nil, errors.Errorf("fastcpu: Constant needs a flat slice, got %T", flat)
	}
	cp := reflect.MakeSlice(fv.Type(), fv.Len(), fv.Len())
	reflect.Copy(cp, fv)
	flatCopy := cp.Interface()
	dims = append([]int(nil), dims...)
	outs, err := b.record("Constant", nil, 1, func(sb backends.Builder, _ []backends.Op) ([]backends.Op, error) {
		o, err := sb.Constant(flatCopy, dims...)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// DistributedSPMD implements backends.Builder: only 1 device.
func (b *Builder) DistributedSPMD(numDevices int) error {
	if numDevices == 1 {
		return nil
	}
	return errors.Errorf("fastcpu: only 1 device, cannot run SPMD on %d", numDevices)
}

// DeviceAssignment implements backends.Builder: only device 0.
func (b *Builder) DeviceAssignment(devices ...backends.DeviceNum) error {
	if len(devices) == 1 && devices[0] == 0 {
		return nil
	}
	return errors.Errorf("fastcpu: only device 0 exists, got assignment %v", devices)
}

// Reverse implements backends.Builder (composed from Slice/Concatenate; SimpleGo lacks it).
func (b *Builder) Reverse(x backends.Op, axes ...int) (backends.Op, error) {
	axes = append([]int(nil), axes...)
	outs, err := b.record("Reverse", []backends.Op{x}, 1, func(sb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		o, err := composeReverse(sb, in[0], axes...)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// Pad implements backends.Builder (composed from Slice/Reshape/Concatenate/BroadcastInDim).
func (b *Builder) Pad(x, fill backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	axesConfig = append([]backends.PadAxis(nil), axesConfig...)
	outs, err := b.record("Pad", []backends.Op{x, fill}, 1, func(sb backends.Builder, in []backends.Op) ([]backends.Op, error) {
		o, err := composePad(sb, in[0], in[1], axesConfig...)
		return []backends.Op{o}, err
	})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

func (c *call) String() string {
	return fmt.Sprintf("%s#%d", c.name, c.idx)
}
