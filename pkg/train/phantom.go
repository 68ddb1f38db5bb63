package train

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Phantoms is a Stateful BatchSource of synthetic images for tests and demos: each sample has two
// adjacent balls, class 1 and class 2 with mean intensities Intensity[0] and Intensity[1] (default
// 1 and -1), on a background of 0, plus Gaussian noise. Positions and radii are random; the balls touch along a random axis, like the
// two hippocampus labels.
type Phantoms struct {
	Patch     []int      // spatial size, (z, y, x) or (y, x)
	BatchSize int        // samples per batch
	Noise     float64    // noise standard deviation (default 0.3 when 0)
	Intensity [2]float64 // class means (default {1, -1} when both 0)

	pcg *rand.PCG
	rng *rand.Rand
}

// NewPhantoms returns a phantom source seeded with seed.
func NewPhantoms(patch []int, batchSize int, seed uint64) *Phantoms {
	p := &Phantoms{Patch: append([]int(nil), patch...), BatchSize: batchSize, pcg: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}
	p.rng = rand.New(p.pcg)
	return p
}

// Next implements BatchSource.
func (p *Phantoms) Next() (*Batch, error) {
	if len(p.Patch) != 2 && len(p.Patch) != 3 {
		return nil, fmt.Errorf("phantoms: patch %v must have 2 or 3 axes", p.Patch)
	}
	n := 1
	for _, s := range p.Patch {
		n *= s
	}
	b := &Batch{Images: make([]float32, p.BatchSize*n), Labels: make([]uint8, p.BatchSize*n),
		Shape: append([]int{p.BatchSize, 1}, p.Patch...)}
	for i := range p.BatchSize {
		p.sample(b.Images[i*n:(i+1)*n], b.Labels[i*n:(i+1)*n])
	}
	return b, nil
}

func (p *Phantoms) sample(img []float32, lab []uint8) {
	d := len(p.Patch)
	noise := p.Noise
	if noise == 0 {
		noise = 0.3
	}
	in := p.Intensity
	if in == [2]float64{} {
		in = [2]float64{1, -1}
	}
	minSide := p.Patch[0]
	for _, s := range p.Patch {
		minSide = min(minSide, s)
	}
	r1 := float64(minSide) * (0.12 + 0.1*p.rng.Float64())
	r2 := float64(minSide) * (0.12 + 0.1*p.rng.Float64())
	c1 := make([]float64, d)
	for a := range d {
		margin := r1 + r2
		c1[a] = margin + p.rng.Float64()*math.Max(float64(p.Patch[a])-2*margin, 1)
	}
	// Second ball touches the first along a random axis and direction.
	c2 := append([]float64(nil), c1...)
	axis := p.rng.IntN(d)
	sign := 1.0
	if p.rng.IntN(2) == 0 {
		sign = -1
	}
	c2[axis] += sign * (r1 + r2) * 0.95
	idx := make([]int, d)
	for v := range img {
		rem := v
		for a := d - 1; a >= 0; a-- {
			idx[a] = rem % p.Patch[a]
			rem /= p.Patch[a]
		}
		var d1, d2 float64
		for a := range d {
			x := float64(idx[a])
			d1 += (x - c1[a]) * (x - c1[a])
			d2 += (x - c2[a]) * (x - c2[a])
		}
		var val float64
		switch {
		case d1 <= r1*r1:
			lab[v], val = 1, in[0]
		case d2 <= r2*r2:
			lab[v], val = 2, in[1]
		}
		img[v] = float32(val + noise*p.rng.NormFloat64())
	}
}

// State implements Stateful.
func (p *Phantoms) State() ([]byte, error) { return p.pcg.MarshalBinary() }

// SetState implements Stateful.
func (p *Phantoms) SetState(b []byte) error { return p.pcg.UnmarshalBinary(b) }
