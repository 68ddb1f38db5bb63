package train

import (
	"slices"
	"testing"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/plans"
)

// TestFromPlansAnisotropic: a set with 5 mm slices pools z fewer times than x and y; the U-Net gets
// the plan's levels and per-axis strides and kernels in tensor order (z, y, x), and the plan's
// patch fits it. An isotropic set keeps the default (nil) kernels.
func TestFromPlansAnisotropic(t *testing.T) {
	fp := func(spacing [3]float64, shape [3]int) *fingerprint.Fingerprint {
		f := &fingerprint.Fingerprint{Dataset: "Synth", AxisOrder: "x,y,z", Orientation: "RAS", Modalities: []string{"T2"},
			LabelValues: []int{0, 1}, MedianRelativeSizeAfterCrop: 1,
			ForegroundPerChannel: []fingerprint.Stats{{N: 100, Mean: 50, Std: 20, Min: 0, Max: 300, Median: 40, P005: 1, P995: 290}}}
		for range 20 {
			f.Cases = append(f.Cases, fingerprint.CaseInfo{ID: "c", Spacing: spacing, ShapeBeforeCrop: shape, ShapeAfterCrop: shape})
		}
		return f
	}
	p, err := plans.Make(fp([3]float64{0.6, 0.6, 3.6}, [3]int{320, 320, 20}), plans.Options{Budget: "GPU 8 GB"})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Configurations[plans.Config3D]
	cfg, patch, err := FromPlans(p, plans.Config3D)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Levels != c.Levels || len(cfg.PoolKernels) != c.Levels-1 || len(cfg.ConvKernels) != c.Levels {
		t.Fatalf("levels %d, pool kernels %v, conv kernels %v; plan %d levels", cfg.Levels, cfg.PoolKernels, cfg.ConvKernels, c.Levels)
	}
	for l, k := range c.PoolKernels {
		if want := []int{k[2], k[1], k[0]}; !slices.Equal(cfg.PoolKernels[l], want) {
			t.Errorf("pool kernel %d: %v, want %v (plan %v, x,y,z)", l, cfg.PoolKernels[l], want, k)
		}
	}
	if cfg.PoolKernels[0][0] != 1 || cfg.ConvKernels[0][0] != 1 {
		t.Errorf("z should not be pooled or convolved at the finest level: pools %v, kernels %v", cfg.PoolKernels, cfg.ConvKernels)
	}
	if err := cfg.CheckPatch(patch); err != nil {
		t.Error(err)
	}
	if cfg.Precision != plans.PrecisionBF16 {
		t.Errorf("precision %q, want the plan's bf16", cfg.Precision)
	}
	iso, err := plans.Make(fp([3]float64{1, 1, 1}, [3]int{40, 56, 40}), plans.Options{Budget: "CPU RAM 4 GB"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err = FromPlans(iso, plans.Config3D)
	if err != nil || cfg.PoolKernels != nil || cfg.ConvKernels != nil || cfg.Precision != plans.PrecisionFloat32 {
		t.Errorf("isotropic: %+v, %v", cfg, err)
	}
}
