package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/pkg/errors"
)

// composeReverse implements Reverse(x, axes...) with Slice and Concatenate of builder b.
func composeReverse(b backends.Builder, x backends.Op, axes ...int) (backends.Op, error) {
	shape, err := b.OpShape(x)
	if err != nil {
		return nil, err
	}
	rank := shape.Rank()
	for _, axis := range axes {
		if axis < 0 || axis >= rank {
			return nil, errors.Errorf("Reverse: axis %d out of range for shape %s", axis, shape)
		}
		n := shape.Dimensions[axis]
		if n <= 1 {
			continue
		}
		starts := make([]int, rank)
		limits := slices.Clone(shape.Dimensions)
		strides := make([]int, rank)
		for i := range strides {
			strides[i] = 1
		}
		parts := make([]backends.Op, n)
		for i := range n {
			starts[axis] = n - 1 - i
			limits[axis] = n - i
			parts[i], err = b.Slice(x, slices.Clone(starts), slices.Clone(limits), slices.Clone(strides))
			if err != nil {
				return nil, err
			}
		}
		x, err = b.Concatenate(axis, parts...)
		if err != nil {
			return nil, err
		}
	}
	return x, nil
}

// composePad implements Pad(x, fill, axesConfig...) (negative and interior padding included) with
// Slice, Reshape, Concatenate and BroadcastInDim of builder b.
func composePad(b backends.Builder, x, fill backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	shape, err := b.OpShape(x)
	if err != nil {
		return nil, err
	}
	fillShape, err := b.OpShape(fill)
	if err != nil {
		return nil, err
	}
	if fillShape.Rank() != 0 || fillShape.DType != shape.DType {
		return nil, errors.Errorf("Pad: fill value must be a scalar of dtype %s, got %s", shape.DType, fillShape)
	}
	rank := shape.Rank()
	if len(axesConfig) > rank {
		return nil, errors.Errorf("Pad: %d axes configured for operand of rank %d", len(axesConfig), rank)
	}
	dims := slices.Clone(shape.Dimensions)
	ones := func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	fillOf := func(d []int) (backends.Op, error) {
		s := shape.Clone()
		s.Dimensions = slices.Clone(d)
		return b.BroadcastInDim(fill, s, nil)
	}
	for axis, cfg := range axesConfig {
		if cfg.Interior < 0 {
			return nil, errors.Errorf("Pad: negative interior padding %d for axis %d", cfg.Interior, axis)
		}
		n := dims[axis]
		if cfg.Interior > 0 && n > 1 {
			// [..., n, ...] -> [..., n, 1, ...] ++ fill [..., n, k, ...] -> [..., n*(1+k), ...] -> slice off the last k.
			k := cfg.Interior
			expanded := slices.Insert(slices.Clone(dims), axis+1, 1)
			x1, err := b.Reshape(x, expanded...)
			if err != nil {
				return nil, err
			}
			fd := slices.Clone(expanded)
			fd[axis+1] = k
			f, err := fillOf(fd)
			if err != nil {
				return nil, err
			}
			x1, err = b.Concatenate(axis+1, x1, f)
			if err != nil {
				return nil, err
			}
			flat := slices.Clone(dims)
			flat[axis] = n * (1 + k)
			x1, err = b.Reshape(x1, flat...)
			if err != nil {
				return nil, err
			}
			limits := slices.Clone(flat)
			limits[axis] = n + (n-1)*k
			x, err = b.Slice(x1, make([]int, rank), limits, ones(rank))
			if err != nil {
				return nil, err
			}
			dims = slices.Clone(limits)
		}
		// Negative padding: slicing.
		if cfg.Start < 0 || cfg.End < 0 {
			starts := make([]int, rank)
			limits := slices.Clone(dims)
			if cfg.Start < 0 {
				starts[axis] = -cfg.Start
			}
			if cfg.End < 0 {
				limits[axis] += cfg.End
			}
			if limits[axis] < starts[axis] {
				return nil, errors.Errorf("Pad: negative padding %+v larger than axis %d (dim %d)", cfg, axis, dims[axis])
			}
			x, err = b.Slice(x, starts, limits, ones(rank))
			if err != nil {
				return nil, err
			}
			dims[axis] = limits[axis] - starts[axis]
		}
		parts := make([]backends.Op, 0, 3)
		if cfg.Start > 0 {
			fd := slices.Clone(dims)
			fd[axis] = cfg.Start
			f, err := fillOf(fd)
			if err != nil {
				return nil, err
			}
			parts = append(parts, f)
		}
		parts = append(parts, x)
		if cfg.End > 0 {
			fd := slices.Clone(dims)
			fd[axis] = cfg.End
			f, err := fillOf(fd)
			if err != nil {
				return nil, err
			}
			parts = append(parts, f)
		}
		if len(parts) > 1 {
			x, err = b.Concatenate(axis, parts...)
			if err != nil {
				return nil, err
			}
			dims[axis] += max(cfg.Start, 0) + max(cfg.End, 0)
		}
	}
	return x, nil
}

// convParams normalises ConvGeneral's optional arguments: missing or zero strides and dilations
// become 1, missing paddings become 0, group counts at least 1.
type convParams struct {
	axes                       backends.ConvolveAxesConfig
	strides, inDil, kerDil     []int
	paddings                   [][2]int
	channelGroups, batchGroups int
}

func normConvParams(spatial int, axes backends.ConvolveAxesConfig, strides []int, paddings [][2]int,
	inputDilations, kernelDilations []int, channelGroupCount, batchGroupCount int) (convParams, error) {
	fix := func(name string, v []int) ([]int, error) {
		out := make([]int, spatial)
		if len(v) != 0 && len(v) != spatial {
			return nil, errors.Errorf("ConvGeneral: %s has %d values for %d spatial axes", name, len(v), spatial)
		}
		for i := range out {
			out[i] = 1
			if len(v) > 0 && v[i] > 0 {
				out[i] = v[i]
			} else if len(v) > 0 && v[i] < 0 {
				return nil, errors.Errorf("ConvGeneral: negative %s %v", name, v)
			}
		}
		return out, nil
	}
	var p convParams
	var err error
	p.axes = axes.Clone()
	if p.strides, err = fix("strides", strides); err != nil {
		return p, err
	}
	if p.inDil, err = fix("input dilations", inputDilations); err != nil {
		return p, err
	}
	if p.kerDil, err = fix("kernel dilations", kernelDilations); err != nil {
		return p, err
	}
	if len(paddings) != 0 && len(paddings) != spatial {
		return p, errors.Errorf("ConvGeneral: paddings has %d values for %d spatial axes", len(paddings), spatial)
	}
	p.paddings = make([][2]int, spatial)
	copy(p.paddings, paddings)
	p.channelGroups = max(channelGroupCount, 1)
	p.batchGroups = max(batchGroupCount, 1)
	return p, nil
}
