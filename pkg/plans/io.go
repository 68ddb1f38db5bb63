package plans

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/msdkit/msdkit/pkg/atomicfile"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/volume"
)

// JSON returns p as indented JSON.
func (p *Plans) JSON() ([]byte, error) {
	return fingerprint.IndentJSON(p)
}

// Save validates p and writes it as indented JSON (atomically).
func (p *Plans) Save(path string) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("plans: not saving %s: %w", path, err)
	}
	b, err := p.JSON()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

// Load reads and validates a plan. Unknown fields are errors (typos in
// hand-edited files should not pass silently).
func Load(path string) (*Plans, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("plans: %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and validates plan JSON.
func Parse(b []byte) (*Plans, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Plans
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if p.Precision == "" {
		if b, err := ParseBudget(p.Budget); err == nil {
			p.Precision = DefaultPrecision(b.Kind)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks that the plan is usable and self-consistent.
func (p *Plans) Validate() error {
	if p.Version != Version {
		return fmt.Errorf("version %d, this code reads version %d", p.Version, Version)
	}
	if p.AxisOrder != "x,y,z" {
		return fmt.Errorf("axis_order %q, want \"x,y,z\"", p.AxisOrder)
	}
	if err := checkPrecision(p.Precision); err != nil {
		return err
	}
	if _, err := volume.ParseOrientation(p.Orientation); err != nil {
		return fmt.Errorf("orientation: %w", err)
	}
	for a, s := range p.TargetSpacing {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("target_spacing[%d]=%g, want a positive number of mm", a, s)
		}
	}
	if !(p.AnisotropyThreshold > 1) {
		return fmt.Errorf("anisotropy_threshold %g, want > 1", p.AnisotropyThreshold)
	}
	if p.ImageInterpolation != volume.Linear && p.ImageInterpolation != volume.Cubic {
		return fmt.Errorf("image_interpolation %q, want linear or cubic", p.ImageInterpolation)
	}
	if len(p.Normalization) == 0 {
		return fmt.Errorf("normalization: no channels")
	}
	for c, n := range p.Normalization {
		switch n.Scheme {
		case volume.SchemeCT:
			if !(n.Std > 0) || !(n.Upper >= n.Lower) {
				return fmt.Errorf("normalization[%d]: CT needs std > 0 and percentile_99_5 >= percentile_00_5 (got std %g, %g..%g)", c, n.Std, n.Lower, n.Upper)
			}
		case volume.SchemeZScore, volume.SchemeNone:
		default:
			return fmt.Errorf("normalization[%d]: scheme %q, want CT, ZScore or None", c, n.Scheme)
		}
	}
	if len(p.Labels) < 2 || p.Labels[0] != 0 || !slices.IsSorted(p.Labels) {
		return fmt.Errorf("labels %v: want sorted values starting with 0 (background) and at least one class", p.Labels)
	}
	for i := 1; i < len(p.Labels); i++ {
		if p.Labels[i] == p.Labels[i-1] || p.Labels[i] > volume.MaxLabel {
			return fmt.Errorf("labels %v: repeated or above %d", p.Labels, volume.MaxLabel)
		}
	}
	if len(p.Configurations) == 0 {
		return fmt.Errorf("configurations: none")
	}
	for name, c := range p.Configurations {
		if err := c.validate(); err != nil {
			return fmt.Errorf("configurations.%s: %w", name, err)
		}
	}
	return nil
}

func (c *Config) validate() error {
	if c == nil {
		return fmt.Errorf("empty")
	}
	if c.Dims != 2 && c.Dims != 3 {
		return fmt.Errorf("dims %d, want 2 or 3", c.Dims)
	}
	for name, n := range map[string]int{"axes": len(c.Axes), "spacing": len(c.Spacing), "patch_size": len(c.PatchSize), "pool_per_axis": len(c.PoolPerAxis)} {
		if n != c.Dims {
			return fmt.Errorf("%s has %d entries for %d dims", name, n, c.Dims)
		}
	}
	seen := map[int]bool{}
	for _, a := range c.Axes {
		if a < 0 || a > 2 || seen[a] {
			return fmt.Errorf("axes %v: want distinct axes from 0..2", c.Axes)
		}
		seen[a] = true
	}
	if c.Dims == 2 {
		if c.SliceAxis == nil || seen[*c.SliceAxis] || *c.SliceAxis < 0 || *c.SliceAxis > 2 {
			return fmt.Errorf("2D needs slice_axis, the axis not in axes %v", c.Axes)
		}
	}
	if c.BatchSize < 1 {
		return fmt.Errorf("batch_size %d, want >= 1", c.BatchSize)
	}
	if c.Levels != len(c.PoolKernels)+1 || len(c.ConvKernels) != c.Levels || len(c.Filters) != c.Levels {
		return fmt.Errorf("levels %d needs %d pool_kernels, %d conv_kernels and %d filters (got %d, %d, %d)",
			c.Levels, c.Levels-1, c.Levels, c.Levels, len(c.PoolKernels), len(c.ConvKernels), len(c.Filters))
	}
	pools := make([]int, c.Dims)
	for l, k := range c.PoolKernels {
		if len(k) != c.Dims {
			return fmt.Errorf("pool_kernels[%d] %v: want %d entries", l, k, c.Dims)
		}
		for i, v := range k {
			if v != 1 && v != 2 {
				return fmt.Errorf("pool_kernels[%d] %v: entries must be 1 or 2", l, k)
			}
			if v == 2 {
				pools[i]++
			}
		}
	}
	if !slices.Equal(pools, c.PoolPerAxis) {
		return fmt.Errorf("pool_per_axis %v does not match pool_kernels (which pool %v)", c.PoolPerAxis, pools)
	}
	for l, k := range c.ConvKernels {
		if len(k) != c.Dims {
			return fmt.Errorf("conv_kernels[%d] %v: want %d entries", l, k, c.Dims)
		}
		for _, v := range k {
			if v < 1 || v%2 == 0 {
				return fmt.Errorf("conv_kernels[%d] %v: entries must be odd and positive", l, k)
			}
		}
	}
	for i, s := range c.PatchSize {
		d := 1 << c.PoolPerAxis[i]
		if s < 1 || s%d != 0 {
			return fmt.Errorf("patch_size %v: axis %d (%d) must be a positive multiple of 2^%d=%d", c.PatchSize, i, s, c.PoolPerAxis[i], d)
		}
		if s/d < 1 {
			return fmt.Errorf("patch_size %v too small for its pooling", c.PatchSize)
		}
	}
	for l, f := range c.Filters {
		if f < 1 {
			return fmt.Errorf("filters[%d]=%d, want >= 1", l, f)
		}
	}
	for i, s := range c.Spacing {
		if !(s > 0) {
			return fmt.Errorf("spacing[%d]=%g, want > 0", i, s)
		}
	}
	return nil
}
