package unet

// ForwardFLOPs counts the floating point operations (2 per multiply-add) of the convolutions of one
// forward pass of cfg on a batch of patches of the given spatial size. Norms, activations and
// biases are not counted (they are O(voxels*channels), a few percent of the total).
func ForwardFLOPs(cfg Config, patch []int, batch int) float64 {
	cfg = cfg.withDefaults()
	voxels := func(level int) float64 {
		v := 1.0
		for a, f := range cfg.Scale(level) {
			v *= float64((patch[a] + f - 1) / f)
		}
		return v
	}
	prod := func(k []int) int {
		p := 1
		for _, v := range k {
			p *= v
		}
		return p
	}
	total := 0.0
	convs := func(level, in, out int, kernel int) {
		total += 2 * float64(kernel) * float64(in) * float64(out) * voxels(level)
	}
	in := cfg.InChannels
	for l := 0; l < cfg.Levels; l++ {
		for i := 0; i < cfg.ConvsPerLevel; i++ {
			convs(l, in, cfg.Filters(l), prod(cfg.Kernel(l)))
			in = cfg.Filters(l)
		}
	}
	for l := cfg.Levels - 2; l >= 0; l-- {
		// 1x1 conv at the coarse level producing prod(stride)*F_l channels.
		convs(l+1, in, cfg.Filters(l)*prod(cfg.Pool(l+1)), 1)
		in = 2 * cfg.Filters(l)
		for i := 0; i < cfg.ConvsPerLevel; i++ {
			convs(l, in, cfg.Filters(l), prod(cfg.Kernel(l)))
			in = cfg.Filters(l)
		}
		if cfg.DeepSupervision || l == 0 {
			convs(l, in, cfg.NumClasses, 1)
		}
	}
	return total * float64(batch)
}

// FLOPs is the conventional cost of one training step: forward + backward (gradients with respect
// to inputs and weights, each about one forward), i.e. 3 * ForwardFLOPs.
func FLOPs(cfg Config, patch []int, batch int) float64 {
	return 3 * ForwardFLOPs(cfg, patch, batch)
}
