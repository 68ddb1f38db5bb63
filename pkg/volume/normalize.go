package volume

import (
	"fmt"
	"math"

	"github.com/msdkit/msdkit/pkg/parallel"
)

// Normalisation schemes (nnU-Net's names in brackets).
const (
	// SchemeCT clips to dataset foreground percentiles [Lower, Upper] and
	// z-scores with the dataset foreground Mean and Std (CTNormalization).
	SchemeCT = "CT"
	// SchemeZScore z-scores each image with its own mean and std, over the
	// nonzero mask when UseMask (ZScoreNormalization).
	SchemeZScore = "ZScore"
	// SchemeNone leaves intensities unchanged (NoNormalization).
	SchemeNone = "None"
)

// Norm is the normalisation of one channel.
type Norm struct {
	Scheme string `json:"scheme"`
	// UseMask: statistics over the nonzero mask only, zero outside it (ZScore).
	UseMask bool `json:"use_nonzero_mask"`
	// Dataset statistics for CT.
	Mean  float64 `json:"mean,omitempty"`
	Std   float64 `json:"std,omitempty"`
	Lower float64 `json:"percentile_00_5,omitempty"`
	Upper float64 `json:"percentile_99_5,omitempty"`
}

// SchemeFor returns nnU-Net's default scheme for a modality name: CT for "CT",
// z-score otherwise (MRI, T1, T2, FLAIR, ADC, ...).
func SchemeFor(modality string) string {
	if modality == "CT" || modality == "ct" {
		return SchemeCT
	}
	return SchemeZScore
}

// Normalize normalises channel c in place with n. mask (nil for none) is the
// nonzero mask used when n.UseMask. It returns the mean and std that were used.
func (v *Volume) Normalize(c int, n Norm, mask []bool) (mean, std float64, err error) {
	if c < 0 || c >= v.Channels {
		return 0, 0, fmt.Errorf("volume: normalise channel %d of %d", c, v.Channels)
	}
	if mask != nil && len(mask) != v.NumVoxels() {
		return 0, 0, fmt.Errorf("volume: normalise: mask has %d voxels, volume %d", len(mask), v.NumVoxels())
	}
	d := v.Channel(c)
	switch n.Scheme {
	case SchemeNone:
		return 0, 1, nil
	case SchemeCT:
		if !(n.Upper >= n.Lower) {
			return 0, 0, fmt.Errorf("volume: CT normalisation: percentiles %g..%g", n.Lower, n.Upper)
		}
		lo, hi := float32(n.Lower), float32(n.Upper)
		m, inv := float32(n.Mean), float32(1/math.Max(n.Std, 1e-8))
		parallel.For(len(d), 0, func(a, b int) {
			for i := a; i < b; i++ {
				d[i] = (min(max(d[i], lo), hi) - m) * inv
			}
		})
		return n.Mean, n.Std, nil
	case SchemeZScore:
		use := n.UseMask && mask != nil
		var s, s2 float64
		cnt := 0
		for i, x := range d {
			if use && !mask[i] {
				continue
			}
			s += float64(x)
			cnt++
		}
		if cnt == 0 && use {
			// Empty mask: fall back to the whole image.
			return v.Normalize(c, Norm{Scheme: SchemeZScore}, nil)
		}
		if cnt == 0 {
			return 0, 0, nil
		}
		mean = s / float64(cnt)
		for i, x := range d {
			if use && !mask[i] {
				continue
			}
			e := float64(x) - mean
			s2 += e * e
		}
		std = math.Sqrt(s2 / float64(cnt))
		m, inv := float32(mean), float32(1/math.Max(std, 1e-8))
		parallel.For(len(d), 0, func(a, b int) {
			for i := a; i < b; i++ {
				if use && !mask[i] {
					d[i] = 0
				} else {
					d[i] = (d[i] - m) * inv
				}
			}
		})
		return mean, std, nil
	}
	return 0, 0, fmt.Errorf("volume: unknown normalisation scheme %q (want CT, ZScore or None)", n.Scheme)
}
