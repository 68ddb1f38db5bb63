package sampler

import (
	"math"
	"math/rand/v2"
)

// uniform draws from U(r[0], r[1]).
func uniform(rng *rand.Rand, r [2]float64) float64 { return r[0] + (r[1]-r[0])*rng.Float64() }

// patch fills img ([C, Z, Y, X]) and lab ([Z, Y, X]) for plan p.
func (s *Sampler) patch(rng *rand.Rand, p *plan, img []float32, lab []uint8) {
	aug := &s.cfg.Augment
	twoD := s.TwoD()
	P := s.cfg.Patch

	// Spatial transform A = R · S · F (patch offsets to source offsets).
	A := [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	for a := 0; a < 3; a++ {
		if aug.Mirror[a] && !(twoD && a == 2) && rng.IntN(2) == 1 {
			A[a][a] = -1
		}
	}
	if aug.ScaleProb > 0 && rng.Float64() < aug.ScaleProb {
		f := uniform(rng, aug.Scale)
		for a := 0; a < 3; a++ {
			if !(twoD && a == 2) {
				for k := 0; k < 3; k++ {
					A[a][k] *= f
				}
			}
		}
	}
	if aug.RotateProb > 0 && rng.Float64() < aug.RotateProb {
		for a := 0; a < 3; a++ {
			if twoD && a != 2 {
				continue
			}
			if m := aug.Rotate[a]; m > 0 {
				A = mul(rotation(a, (2*rng.Float64()-1)*m), A)
			}
		}
	}
	s.resample(p, A, img, lab)

	// Intensity augmentations, per channel.
	C := p.ci.c.Image.Channels
	n := P[0] * P[1] * P[2]
	if aug.NoiseProb > 0 && rng.Float64() < aug.NoiseProb {
		sd := math.Sqrt(uniform(rng, aug.NoiseVariance))
		for i := range img {
			img[i] += float32(sd * rng.NormFloat64())
		}
	}
	if aug.BlurProb > 0 && rng.Float64() < aug.BlurProb {
		for c := 0; c < C; c++ {
			if rng.Float64() < aug.BlurChannelProb {
				var sig [3]float64
				for a := range sig {
					if !(twoD && a == 2) {
						sig[a] = uniform(rng, aug.BlurSigma)
					}
				}
				blur(img[c*n:(c+1)*n], P, sig)
			}
		}
	}
	if aug.BrightnessProb > 0 && rng.Float64() < aug.BrightnessProb {
		for c := 0; c < C; c++ {
			f := float32(uniform(rng, aug.Brightness))
			for i := c * n; i < (c+1)*n; i++ {
				img[i] *= f
			}
		}
	}
	if aug.ContrastProb > 0 && rng.Float64() < aug.ContrastProb {
		for c := 0; c < C; c++ {
			contrast(img[c*n:(c+1)*n], uniform(rng, aug.Contrast))
		}
	}
	if aug.ShiftProb > 0 && rng.Float64() < aug.ShiftProb {
		for c := 0; c < C; c++ {
			d := float32(aug.ShiftSigma * rng.NormFloat64())
			for i := c * n; i < (c+1)*n; i++ {
				img[i] += d
			}
		}
	}
	if aug.InvertedGammaProb > 0 && rng.Float64() < aug.InvertedGammaProb {
		for c := 0; c < C; c++ {
			gamma(img[c*n:(c+1)*n], drawGamma(rng, aug.Gamma), true)
		}
	}
	if aug.GammaProb > 0 && rng.Float64() < aug.GammaProb {
		for c := 0; c < C; c++ {
			gamma(img[c*n:(c+1)*n], drawGamma(rng, aug.Gamma), false)
		}
	}
}

// resample reads the patch through the offset map A around p.centre.
func (s *Sampler) resample(p *plan, A [3][3]float64, img []float32, lab []uint8) {
	P := s.cfg.Patch
	var c [3]float64
	for a := range c {
		c[a] = float64(P[a]-1) / 2
	}
	if !copyPatch(p, A, P, c, img, lab) {
		interpolate(p, A, P, c, img, lab)
	}
}

// interpolate reads the patch with trilinear (image) and nearest (label)
// interpolation at the mapped positions.
func interpolate(p *plan, A [3][3]float64, P [3]int, c [3]float64, img []float32, lab []uint8) {
	iv, lv := p.ci.c.Image, p.ci.c.Label
	n := P[0] * P[1] * P[2]
	for z := 0; z < P[2]; z++ {
		for y := 0; y < P[1]; y++ {
			for x := 0; x < P[0]; x++ {
				d := [3]float64{float64(x) - c[0], float64(y) - c[1], float64(z) - c[2]}
				var q [3]float64
				for a := 0; a < 3; a++ {
					q[a] = p.centre[a] + A[a][0]*d[0] + A[a][1]*d[1] + A[a][2]*d[2]
				}
				i := x + P[0]*(y+P[1]*z)
				for ch := 0; ch < iv.Channels; ch++ {
					img[ch*n+i] = iv.At(ch, q[0], q[1], q[2])
				}
				lab[i] = uint8(math.Round(float64(lv.AtNearest(0, q[0], q[1], q[2]))))
			}
		}
	}
}

// copyPatch handles the common case of A a pure mirroring, where every
// patch voxel falls on a case voxel: it copies them directly (0 outside)
// and reports true; otherwise it does nothing and reports false.
func copyPatch(p *plan, A [3][3]float64, P [3]int, c [3]float64, img []float32, lab []uint8) bool {
	var start, step [3]int // source = start + step * patch index
	for a := 0; a < 3; a++ {
		for k := 0; k < 3; k++ {
			if k != a && A[a][k] != 0 {
				return false
			}
		}
		if A[a][a] != 1 && A[a][a] != -1 {
			return false
		}
		s0 := p.centre[a] - A[a][a]*c[a]
		if s0 != math.Trunc(s0) {
			return false
		}
		start[a], step[a] = int(s0), int(A[a][a])
	}
	iv, lv := p.ci.c.Image, p.ci.c.Label
	S := iv.Shape
	n, nv := P[0]*P[1]*P[2], iv.NumVoxels()
	for z := 0; z < P[2]; z++ {
		sz := start[2] + step[2]*z
		for y := 0; y < P[1]; y++ {
			sy := start[1] + step[1]*y
			row := P[0] * (y + P[1]*z)
			inYZ := sz >= 0 && sz < S[2] && sy >= 0 && sy < S[1]
			for x := 0; x < P[0]; x++ {
				sx := start[0] + step[0]*x
				i := row + x
				if !inYZ || sx < 0 || sx >= S[0] {
					for ch := 0; ch < iv.Channels; ch++ {
						img[ch*n+i] = 0
					}
					lab[i] = 0
					continue
				}
				k := sx + S[0]*(sy+S[1]*sz)
				for ch := 0; ch < iv.Channels; ch++ {
					img[ch*n+i] = iv.Data[ch*nv+k]
				}
				lab[i] = uint8(math.Round(float64(lv.Data[k])))
			}
		}
	}
	return true
}

// rotation returns the rotation by angle t about axis a.
func rotation(a int, t float64) [3][3]float64 {
	c, s := math.Cos(t), math.Sin(t)
	switch a {
	case 0:
		return [3][3]float64{{1, 0, 0}, {0, c, -s}, {0, s, c}}
	case 1:
		return [3][3]float64{{c, 0, s}, {0, 1, 0}, {-s, 0, c}}
	}
	return [3][3]float64{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}
}

func mul(a, b [3][3]float64) [3][3]float64 {
	var m [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				m[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return m
}

// drawGamma draws gamma as batchgenerators: when the range spans 1, from
// [r0, 1] or [1, r1] with probability 1/2 each (so gammas below and above
// 1 are equally likely); otherwise uniformly in the range.
func drawGamma(rng *rand.Rand, r [2]float64) float64 {
	if r[0] >= 1 || r[1] <= 1 {
		return uniform(rng, r)
	}
	if rng.Float64() < 0.5 {
		return uniform(rng, [2]float64{r[0], 1})
	}
	return uniform(rng, [2]float64{1, r[1]})
}

// gamma applies x -> ((x-min)/range)^g · range + min, on -x when invert,
// then restores the channel's mean and standard deviation.
func gamma(x []float32, g float64, invert bool) {
	sign := 1.0
	if invert {
		sign = -1
	}
	mean, sd := stats(x, sign)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		f := sign * float64(v)
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	rng := hi - lo
	for i, v := range x {
		f := sign * float64(v)
		x[i] = float32(math.Pow((f-lo)/(rng+1e-7), g)*rng + lo)
	}
	m2, sd2 := stats(x, 1)
	for i, v := range x {
		x[i] = float32(sign * ((float64(v)-m2)/(sd2+1e-8)*sd + mean))
	}
}

// contrast scales x about its mean by f and clips to x's previous range
// (batchgenerators' augment_contrast with preserve_range).
func contrast(x []float32, f float64) {
	m, _ := stats(x, 1)
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	for i, v := range x {
		x[i] = min(hi, max(lo, float32((float64(v)-m)*f+m)))
	}
}

// stats returns the mean and (population) standard deviation of sign·x.
func stats(x []float32, sign float64) (float64, float64) {
	var s, ss float64
	for _, v := range x {
		s += sign * float64(v)
	}
	m := s / float64(len(x))
	for _, v := range x {
		d := sign*float64(v) - m
		ss += d * d
	}
	return m, math.Sqrt(ss / float64(len(x)))
}

// blur convolves x (shape P, x fastest) with a separable Gaussian of the
// given sigmas in voxels (0: that axis is left alone), truncated at 4 sigma
// with mirrored borders (scipy.ndimage's "reflect").
func blur(x []float32, P [3]int, sigma [3]float64) {
	strides := [3]int{1, P[0], P[0] * P[1]}
	for a := 0; a < 3; a++ {
		if sigma[a] <= 0 || P[a] == 1 {
			continue
		}
		r := int(4*sigma[a] + 0.5)
		k := make([]float64, 2*r+1)
		sum := 0.0
		for i := range k {
			d := float64(i - r)
			k[i] = math.Exp(-d * d / (2 * sigma[a] * sigma[a]))
			sum += k[i]
		}
		for i := range k {
			k[i] /= sum
		}
		n := P[a]
		line := make([]float64, n)
		b1, b2 := (a+1)%3, (a+2)%3
		for j := 0; j < P[b1]; j++ {
			for l := 0; l < P[b2]; l++ {
				base := j*strides[b1] + l*strides[b2]
				for i := 0; i < n; i++ {
					line[i] = float64(x[base+i*strides[a]])
				}
				for i := 0; i < n; i++ {
					acc := 0.0
					for t := -r; t <= r; t++ {
						acc += k[t+r] * line[reflect(i+t, n)]
					}
					x[base+i*strides[a]] = float32(acc)
				}
			}
		}
	}
}

// reflect maps i into [0, n) by mirroring about the edges (d c b a | a b c d).
func reflect(i, n int) int {
	for i < 0 || i >= n {
		if i < 0 {
			i = -i - 1
		}
		if i >= n {
			i = 2*n - i - 1
		}
	}
	return i
}
