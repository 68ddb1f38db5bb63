// Package sampler draws training patches from preprocessed cases, as
// nnU-Net's data loader and batchgenerators augmentation do.
//
// A patch of size (X, Y, Z) is taken from a random case. A fraction of the
// patches (ForegroundFraction; nnU-Net uses 1/3) is forced to contain
// foreground: a class is chosen uniformly among the labels > 0 present in
// the case, then one of its voxels uniformly, and the patch is centred on
// it (moved inwards where the patch would leave the padded range). Other
// patches start uniformly in the padded range. Cases smaller than the patch
// are padded symmetrically with 0 (image) and background (label), as
// nnU-Net's need_to_pad.
//
// Spatial augmentation maps each patch voxel p to the source position
//
//	s = centre + R · S · F · (p - c),  c = (patch-1)/2,
//
// with F a random mirroring (±1 per axis), S a scaling (factor > 1 samples a
// larger region: objects shrink), and R a rotation about the x, y and z
// axes. Images are read with trilinear interpolation ((*volume.Volume).At)
// and labels with nearest neighbour (AtNearest), 0 outside the case; so the
// patch is resampled directly from the surrounding region, and with no
// rotation or scaling it is an exact copy. Intensity augmentations follow
// (per channel): Gaussian noise, Gaussian blur, multiplicative brightness,
// contrast, additive shift, and gamma (batchgenerators' augment_gamma with retained
// mean and standard deviation, optionally on the inverted image).
//
// All draws come from one seeded PCG generator: Next draws the cases,
// locations and a seed per patch sequentially, then assembles the patches
// in parallel, each from its own generator, so batches depend only on the
// seed. State and SetState save and restore the generator.
//
// 2D mode (Patch[2] == 1) samples single z slices: rotation about z only,
// in-plane scaling, mirroring and blur, and batches shaped [B, C, Y, X].
package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Case is one preprocessed training case.
type Case struct {
	ID string
	// Image holds the (normalised) channels; Label the integer labels
	// 0..255 in one channel, with the image's shape.
	Image, Label *volume.Volume
}

// Config configures a Sampler.
type Config struct {
	// Patch is the patch size along x, y and z; Patch[2] == 1 selects 2D mode.
	Patch [3]int
	// BatchSize is the number of patches per batch.
	BatchSize int
	// ForegroundFraction of the patches is centred on foreground (nnU-Net
	// 0.33). As nnU-Net, the last round(B·f) patches of each batch are
	// forced (more exactly: patch i is forced when i >= round(B·(1-f))),
	// or, with Probabilistic, each patch is forced with probability f.
	ForegroundFraction float64
	Probabilistic      bool
	// Augment configures the augmentations; the zero value disables them.
	Augment Augment
	// Workers assembling patches in parallel; default GOMAXPROCS.
	Workers int
}

// Augment holds augmentation probabilities and ranges; a transform with
// probability 0 is off.
type Augment struct {
	// Mirror[a] allows mirroring along axis a (x, y, z), each with probability 1/2.
	Mirror [3]bool
	// RotateProb is the probability of a rotation, by angles drawn uniformly
	// in ±Rotate[a] radians about axis a (x, y, z).
	RotateProb float64
	Rotate     [3]float64
	// ScaleProb is the probability of scaling by a factor drawn uniformly
	// in Scale (the same factor on all axes).
	ScaleProb float64
	Scale     [2]float64
	// NoiseProb: add zero-mean Gaussian noise of variance ~ U(NoiseVariance).
	NoiseProb     float64
	NoiseVariance [2]float64
	// BlurProb: per channel with probability BlurChannelProb, blur with a
	// Gaussian of sigma ~ U(BlurSigma) voxels drawn per axis.
	BlurProb, BlurChannelProb float64
	BlurSigma                 [2]float64
	// BrightnessProb: multiply each channel by a factor ~ U(Brightness).
	BrightnessProb float64
	Brightness     [2]float64
	// ContrastProb: scale each channel about its mean by a factor ~
	// U(Contrast), clipped to the channel's previous range.
	ContrastProb float64
	Contrast     [2]float64
	// ShiftProb: add to each channel a value ~ N(0, ShiftSigma²).
	ShiftProb, ShiftSigma float64
	// GammaProb and InvertedGammaProb: gamma ~ Gamma range (below 1 with
	// probability 1/2 when the range spans 1) on the channel rescaled to
	// [0, 1] (inverted first for InvertedGammaProb), mean and sd retained.
	GammaProb, InvertedGammaProb float64
	Gamma                        [2]float64
}

// NNUNet returns nnU-Net's default training augmentation: mirroring on all
// (2D: in-plane) axes, rotation ±30° (2D: ±180° about z) with p 0.2,
// scaling 0.7..1.4 with p 0.2, noise variance 0..0.1 with p 0.1, blur sigma
// 0.5..1 with p 0.2 (per channel 0.5), brightness 0.75..1.25 with p 0.15,
// contrast 0.75..1.25 with p 0.15, gamma 0.7..1.5 with p 0.3 and inverted with p 0.1.
func NNUNet(twoD bool) Augment {
	a := Augment{
		Mirror:     [3]bool{true, true, !twoD},
		RotateProb: 0.2, ScaleProb: 0.2, Scale: [2]float64{0.7, 1.4},
		NoiseProb: 0.1, NoiseVariance: [2]float64{0, 0.1},
		BlurProb: 0.2, BlurChannelProb: 0.5, BlurSigma: [2]float64{0.5, 1},
		BrightnessProb: 0.15, Brightness: [2]float64{0.75, 1.25},
		ContrastProb: 0.15, Contrast: [2]float64{0.75, 1.25},
		GammaProb: 0.3, InvertedGammaProb: 0.1, Gamma: [2]float64{0.7, 1.5},
	}
	r := 30 * math.Pi / 180
	a.Rotate = [3]float64{r, r, r}
	if twoD {
		a.Rotate = [3]float64{0, 0, math.Pi}
	}
	return a
}

// Batch is a batch of patches.
type Batch struct {
	// Images is [B, C, Z, Y, X] row-major (2D: [B, C, Y, X]), the volume layout.
	Images []float32
	// Labels is [B, Z, Y, X] (2D: [B, Y, X]); uint8 as train.Batch.
	Labels []uint8
	// Shape is the shape of Images.
	Shape []int
	// CaseIDs and Forced say, per patch, which case it came from and
	// whether it was forced onto foreground.
	CaseIDs []string
	Forced  []bool
}

// LabelShape is Shape without the channel axis.
func (b *Batch) LabelShape() []int { return append([]int{b.Shape[0]}, b.Shape[2:]...) }

// caseInfo holds what the sampler precomputes per case.
type caseInfo struct {
	c       Case
	classes []int     // labels > 0 present, ascending
	where   [][]int32 // voxel indices of each class
}

// Sampler draws batches; it is not safe for concurrent use.
type Sampler struct {
	cfg   Config
	cases []caseInfo
	pcg   *rand.PCG
	rng   *rand.Rand
}

// New checks the cases and configuration and returns a sampler seeded with seed.
func New(cases []Case, cfg Config, seed uint64) (*Sampler, error) {
	if len(cases) == 0 {
		return nil, fmt.Errorf("sampler: no cases")
	}
	for a, p := range cfg.Patch {
		if p < 1 {
			return nil, fmt.Errorf("sampler: patch %v: axis %d must be at least 1", cfg.Patch, a)
		}
	}
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("sampler: batch size %d", cfg.BatchSize)
	}
	if cfg.ForegroundFraction < 0 || cfg.ForegroundFraction > 1 {
		return nil, fmt.Errorf("sampler: foreground fraction %g outside [0, 1]", cfg.ForegroundFraction)
	}
	if err := cfg.Augment.check(); err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	s := &Sampler{cfg: cfg, pcg: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}
	s.rng = rand.New(s.pcg)
	channels := -1
	for _, c := range cases {
		ci, err := newCaseInfo(c)
		if err != nil {
			return nil, err
		}
		if channels >= 0 && c.Image.Channels != channels {
			return nil, fmt.Errorf("sampler: case %s has %d channels, others %d", c.ID, c.Image.Channels, channels)
		}
		channels = c.Image.Channels
		s.cases = append(s.cases, ci)
	}
	return s, nil
}

func newCaseInfo(c Case) (caseInfo, error) {
	ci := caseInfo{c: c}
	if c.Image == nil || c.Label == nil {
		return ci, fmt.Errorf("sampler: case %s: missing image or label", c.ID)
	}
	if err := c.Image.Validate(); err != nil {
		return ci, fmt.Errorf("sampler: case %s image: %w", c.ID, err)
	}
	if err := c.Label.Validate(); err != nil {
		return ci, fmt.Errorf("sampler: case %s label: %w", c.ID, err)
	}
	if c.Label.Channels != 1 || c.Label.Shape != c.Image.Shape {
		return ci, fmt.Errorf("sampler: case %s: label has %d channel(s) of shape %v, image shape %v", c.ID, c.Label.Channels, c.Label.Shape, c.Image.Shape)
	}
	var where [256][]int32
	for i, f := range c.Label.Data {
		r := math.Round(float64(f))
		if math.Abs(float64(f)-r) > 1e-3 || r < 0 || r > 255 {
			return ci, fmt.Errorf("sampler: case %s: label voxel %d = %g is not a label in 0..255", c.ID, i, f)
		}
		if l := int(r); l > 0 {
			where[l] = append(where[l], int32(i))
		}
	}
	for l, w := range where {
		if len(w) > 0 {
			ci.classes = append(ci.classes, l)
			ci.where = append(ci.where, w)
		}
	}
	return ci, nil
}

func (a *Augment) check() error {
	for _, p := range []float64{a.RotateProb, a.ScaleProb, a.NoiseProb, a.BlurProb, a.BlurChannelProb, a.BrightnessProb, a.ContrastProb, a.ShiftProb, a.GammaProb, a.InvertedGammaProb} {
		if p < 0 || p > 1 {
			return fmt.Errorf("sampler: augmentation probability %g outside [0, 1]", p)
		}
	}
	if a.ScaleProb > 0 && !(a.Scale[0] > 0 && a.Scale[1] >= a.Scale[0]) {
		return fmt.Errorf("sampler: scale range %v", a.Scale)
	}
	if (a.GammaProb > 0 || a.InvertedGammaProb > 0) && !(a.Gamma[0] > 0 && a.Gamma[1] >= a.Gamma[0]) {
		return fmt.Errorf("sampler: gamma range %v", a.Gamma)
	}
	if a.ContrastProb > 0 && !(a.Contrast[0] > 0 && a.Contrast[1] >= a.Contrast[0]) {
		return fmt.Errorf("sampler: contrast range %v", a.Contrast)
	}
	if a.BlurProb > 0 && !(a.BlurSigma[0] > 0 && a.BlurSigma[1] >= a.BlurSigma[0]) {
		return fmt.Errorf("sampler: blur sigma range %v", a.BlurSigma)
	}
	if a.NoiseProb > 0 && !(a.NoiseVariance[0] >= 0 && a.NoiseVariance[1] >= a.NoiseVariance[0]) {
		return fmt.Errorf("sampler: noise variance range %v", a.NoiseVariance)
	}
	return nil
}

// State returns the generator state (for resuming training).
func (s *Sampler) State() ([]byte, error) { return s.pcg.MarshalBinary() }

// SetState restores a state returned by State.
func (s *Sampler) SetState(b []byte) error {
	if err := s.pcg.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("sampler: restoring state: %w", err)
	}
	return nil
}

// TwoD reports whether the sampler is in 2D mode.
func (s *Sampler) TwoD() bool { return s.cfg.Patch[2] == 1 }

// plan is everything drawn sequentially for one patch.
type plan struct {
	ci     *caseInfo
	centre [3]float64 // source position of the patch centre, voxels
	forced bool
	seed   [2]uint64
}

// Next draws a batch.
func (s *Sampler) Next() (*Batch, error) {
	cfg := s.cfg
	B := cfg.BatchSize
	P := cfg.Patch
	C := s.cases[0].c.Image.Channels
	n := P[0] * P[1] * P[2]
	b := &Batch{
		Images:  make([]float32, B*C*n),
		Labels:  make([]uint8, B*n),
		CaseIDs: make([]string, B),
		Forced:  make([]bool, B),
	}
	if s.TwoD() {
		b.Shape = []int{B, C, P[1], P[0]}
	} else {
		b.Shape = []int{B, C, P[2], P[1], P[0]}
	}
	plans := make([]plan, B)
	notForced := int(math.Round(float64(B) * (1 - cfg.ForegroundFraction)))
	for i := range plans {
		ci := &s.cases[s.rng.IntN(len(s.cases))]
		forced := i >= notForced
		if cfg.Probabilistic {
			forced = s.rng.Float64() < cfg.ForegroundFraction
		}
		plans[i] = plan{ci: ci, seed: [2]uint64{s.rng.Uint64(), s.rng.Uint64()}}
		plans[i].centre, plans[i].forced = s.location(ci, forced)
		b.CaseIDs[i], b.Forced[i] = ci.c.ID, plans[i].forced
	}
	var wg sync.WaitGroup
	next := make(chan int, B)
	for i := 0; i < B; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < min(cfg.Workers, B); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := &plans[i]
				rng := rand.New(rand.NewPCG(p.seed[0], p.seed[1]))
				s.patch(rng, p, b.Images[i*C*n:(i+1)*C*n], b.Labels[i*n:(i+1)*n])
			}
		}()
	}
	wg.Wait()
	return b, nil
}

// location draws the source position of a patch centre, as nnU-Net's
// get_bbox: the patch start ranges over [lb, ub] with lb = -pad/2 and
// ub = shape + pad/2 + pad%2 - patch, pad = max(0, patch - shape); forced
// patches start at voxel - patch/2, clipped to that range. It reports
// whether the patch was forced (false when the case has no foreground).
func (s *Sampler) location(ci *caseInfo, force bool) ([3]float64, bool) {
	shape := ci.c.Image.Shape
	P := s.cfg.Patch
	var vox [3]int
	forced := force && len(ci.classes) > 0
	if forced {
		k := s.rng.IntN(len(ci.classes))
		idx := int(ci.where[k][s.rng.IntN(len(ci.where[k]))])
		vox = [3]int{idx % shape[0], idx / shape[0] % shape[1], idx / (shape[0] * shape[1])}
	}
	var centre [3]float64
	for a := 0; a < 3; a++ {
		pad := max(0, P[a]-shape[a])
		lb := -pad / 2
		ub := shape[a] + pad/2 + pad%2 - P[a]
		var start int
		if forced {
			start = max(lb, min(ub, vox[a]-P[a]/2))
		} else {
			start = lb + s.rng.IntN(ub-lb+1)
		}
		centre[a] = float64(start) + float64(P[a]-1)/2
	}
	return centre, forced
}
