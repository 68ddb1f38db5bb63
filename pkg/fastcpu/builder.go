package fastcpu

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/pkg/errors"
)

// Builder implements backends.Builder.
type Builder struct {
	backends.Builder // SimpleGo builder.
}

// Builder implements backends.Backend.
func (b *Backend) Builder(name string) backends.Builder {
	return &Builder{Builder: b.Backend.Builder(name)}
}

// Reverse implements backends.Builder (missing in SimpleGo).
func (b *Builder) Reverse(x backends.Op, axes ...int) (backends.Op, error) {
	return composeReverse(b.Builder, x, axes...)
}

// Pad implements backends.Builder (missing in SimpleGo).
func (b *Builder) Pad(x, fill backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	return composePad(b.Builder, x, fill, axesConfig...)
}

// ConvGeneral implements backends.Builder, normalising zero/missing strides and dilations to 1.
func (b *Builder) ConvGeneral(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (backends.Op, error) {
	s, err := b.OpShape(input)
	if err != nil {
		return nil, err
	}
	if s.Rank() < 3 {
		return nil, errors.Errorf("ConvGeneral: input must have rank >= 3, got %s", s)
	}
	p, err := normConvParams(s.Rank()-2, axes, strides, paddings, inputDilations, kernelDilations, channelGroupCount, batchGroupCount)
	if err != nil {
		return nil, err
	}
	return b.Builder.ConvGeneral(input, kernel, p.axes, p.strides, p.paddings, p.inDil, p.kerDil, p.channelGroups, p.batchGroups)
}
