// Package fingerprint computes a dataset fingerprint as nnU-Net does: for each
// training case the voxel spacing, the shape before and after cropping to the
// nonzero region, the voxel count of each label and intensity statistics of
// the foreground (label > 0) voxels of every channel; for the dataset the same
// statistics over a pooled sample of foreground voxels from all cases.
//
// Geometry is measured after reorientation to the canonical orientation
// (Orientation, RAS by default), so spacings and shapes are in the x, y, z
// order of the volumes the rest of the pipeline sees.
//
// Percentiles interpolate linearly between order statistics (numpy's default):
// for sorted values v[0..n-1] the q-th percentile is at rank q/100*(n-1).
package fingerprint

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/msdkit/msdkit/pkg/parallel"

	"github.com/msdkit/msdkit/pkg/atomicfile"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Case is one training case: image and label file paths.
type Case struct {
	ID    string `json:"id"`
	Image string `json:"image"`
	Label string `json:"label"`
}

// Input describes the dataset to fingerprint.
type Input struct {
	// Name of the dataset (e.g. "Task04_Hippocampus").
	Name string
	// Modalities per channel as in dataset.json ("CT", "MRI", "T2", ...).
	Modalities []string
	// Labels maps label values to names as in dataset.json (may be nil).
	Labels map[int]string
	Cases  []Case
}

// Options tune Compute; the zero value is nnU-Net's behaviour.
type Options struct {
	// Orientation to measure geometry in; "" means "RAS".
	Orientation string
	// TotalSamples is the number of foreground voxels pooled over all cases for
	// the dataset statistics (nnU-Net: 10e7); 0 means DefaultTotalSamples.
	TotalSamples int
	// Workers is the number of cases processed at once; 0 means GOMAXPROCS.
	Workers int
	// Progress receives one line per finished case (nil: silent).
	Progress io.Writer
	// Seed of the foreground sampling.
	Seed uint64
}

// DefaultTotalSamples is the default size of the pooled foreground sample.
const DefaultTotalSamples = 10_000_000

// Stats are intensity statistics of a set of voxels.
type Stats struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Median float64 `json:"median"`
	P005   float64 `json:"percentile_00_5"`
	P995   float64 `json:"percentile_99_5"`
}

// CaseInfo is the fingerprint of one case.
type CaseInfo struct {
	ID string `json:"id"`
	// Orientation is the axis code of the file's affine.
	Orientation     string      `json:"orientation"`
	Spacing         [3]float64  `json:"spacing"`
	ShapeBeforeCrop [3]int      `json:"shape_before_crop"`
	ShapeAfterCrop  [3]int      `json:"shape_after_crop"`
	LabelVoxels     map[int]int `json:"label_voxels"`
	// LabelVolumes in mm^3 per label.
	LabelVolumes         map[int]float64 `json:"label_volume_mm3"`
	ForegroundPerChannel []Stats         `json:"foreground_intensity_per_channel"`
}

// Fingerprint is the dataset fingerprint (JSON).
type Fingerprint struct {
	Dataset     string         `json:"dataset"`
	AxisOrder   string         `json:"axis_order"`
	Orientation string         `json:"orientation"`
	Modalities  []string       `json:"modalities"`
	Labels      map[int]string `json:"labels,omitempty"`
	// LabelValues are the label values found in any case, sorted.
	LabelValues []int `json:"label_values"`
	// ForegroundPerChannel: statistics of the pooled foreground sample.
	ForegroundPerChannel []Stats `json:"foreground_intensity_properties_per_channel"`
	// MedianRelativeSizeAfterCrop is the median over cases of voxels after
	// cropping divided by voxels before (nnU-Net uses it to decide whether
	// z-scoring uses the nonzero mask: below 0.75 it does).
	MedianRelativeSizeAfterCrop float64    `json:"median_relative_size_after_cropping"`
	Cases                       []CaseInfo `json:"cases"`
}

// Spacings returns the spacing of every case.
func (f *Fingerprint) Spacings() [][3]float64 {
	out := make([][3]float64, len(f.Cases))
	for i, c := range f.Cases {
		out[i] = c.Spacing
	}
	return out
}

// ShapesAfterCrop returns the cropped shape of every case.
func (f *Fingerprint) ShapesAfterCrop() [][3]int {
	out := make([][3]int, len(f.Cases))
	for i, c := range f.Cases {
		out[i] = c.ShapeAfterCrop
	}
	return out
}

type caseResult struct {
	info    CaseInfo
	samples [][]float32 // per channel
	err     error
}

// Compute fingerprints the dataset, reading cases in parallel.
func Compute(in Input, opt Options) (*Fingerprint, error) {
	if len(in.Cases) == 0 {
		return nil, fmt.Errorf("fingerprint: dataset %q has no cases", in.Name)
	}
	if opt.Orientation == "" {
		opt.Orientation = "RAS"
	}
	if opt.TotalSamples <= 0 {
		opt.TotalSamples = DefaultTotalSamples
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	perCase := max(1, opt.TotalSamples/len(in.Cases))
	results := make([]caseResult, len(in.Cases))
	var done atomic.Int64
	var mu sync.Mutex
	parallel.Each(len(in.Cases), workers, func(i int) {
		r := &results[i]
		r.info, r.samples, r.err = computeCase(in.Cases[i], opt.Orientation, perCase, opt.Seed+uint64(i))
		n := done.Add(1)
		if opt.Progress != nil {
			mu.Lock()
			fmt.Fprintf(opt.Progress, "fingerprint %s: %d/%d cases\n", in.Name, n, len(in.Cases))
			mu.Unlock()
		}
	})
	f := &Fingerprint{Dataset: in.Name, AxisOrder: "x,y,z", Orientation: opt.Orientation, Modalities: in.Modalities, Labels: in.Labels}
	channels := -1
	labelSet := map[int]bool{}
	var rel []float64
	var pooled [][]float32
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		nc := len(r.info.ForegroundPerChannel)
		if channels < 0 {
			channels = nc
			pooled = make([][]float32, nc)
		} else if nc != channels {
			return nil, fmt.Errorf("fingerprint: case %s has %d channels, case %s has %d", r.info.ID, nc, results[0].info.ID, channels)
		}
		if len(in.Modalities) > 0 && len(in.Modalities) != nc {
			return nil, fmt.Errorf("fingerprint: case %s has %d channels, dataset lists %d modalities", r.info.ID, nc, len(in.Modalities))
		}
		for l := range r.info.LabelVoxels {
			labelSet[l] = true
		}
		b, a := r.info.ShapeBeforeCrop, r.info.ShapeAfterCrop
		rel = append(rel, float64(a[0]*a[1]*a[2])/float64(b[0]*b[1]*b[2]))
		for c := range pooled {
			pooled[c] = append(pooled[c], r.samples[c]...)
		}
		f.Cases = append(f.Cases, r.info)
		results[i].samples = nil
	}
	for l := range labelSet {
		f.LabelValues = append(f.LabelValues, l)
	}
	sort.Ints(f.LabelValues)
	for _, s := range pooled {
		f.ForegroundPerChannel = append(f.ForegroundPerChannel, StatsOf(s))
	}
	f.MedianRelativeSizeAfterCrop = Percentile(sortedF64(rel), 50)
	return f, nil
}

func sortedF64(x []float64) []float64 {
	x = slices.Clone(x)
	sort.Float64s(x)
	return x
}

func computeCase(c Case, orientation string, perCase int, seed uint64) (CaseInfo, [][]float32, error) {
	info := CaseInfo{ID: c.ID}
	img, err := volume.Read(c.Image)
	if err != nil {
		return info, nil, fmt.Errorf("fingerprint: case %s: %w", c.ID, err)
	}
	lbl, err := volume.Read(c.Label)
	if err != nil {
		return info, nil, fmt.Errorf("fingerprint: case %s: %w", c.ID, err)
	}
	if _, err := lbl.LabelCounts(); err != nil {
		return info, nil, fmt.Errorf("fingerprint: case %s: %s: %w", c.ID, c.Label, err)
	}
	pi, pl, rec, err := volume.Prepare(img, lbl, volume.Steps{Orientation: orientation, CropNonzero: true})
	if err != nil {
		return info, nil, fmt.Errorf("fingerprint: case %s (%s): %w", c.ID, c.Image, err)
	}
	info.Orientation = rec.Reorientation.From
	info.Spacing = pi.Spacing
	info.ShapeBeforeCrop = rec.ReorientedShape
	info.ShapeAfterCrop = pi.Shape
	if info.LabelVoxels, err = pl.LabelCounts(); err != nil {
		return info, nil, fmt.Errorf("fingerprint: case %s: %s: %w", c.ID, c.Label, err)
	}
	info.LabelVolumes = map[int]float64{}
	for l, n := range info.LabelVoxels {
		info.LabelVolumes[l] = float64(n) * pi.VoxelVolume()
	}
	var fg []int
	for i, l := range pl.Data {
		if l > 0 {
			fg = append(fg, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1234))
	pick := fg
	if len(fg) > perCase {
		pick = make([]int, perCase)
		for i := range pick {
			pick[i] = fg[rng.IntN(len(fg))]
		}
	}
	samples := make([][]float32, pi.Channels)
	for ch := 0; ch < pi.Channels; ch++ {
		d := pi.Channel(ch)
		all := make([]float32, len(fg))
		for i, j := range fg {
			all[i] = d[j]
		}
		info.ForegroundPerChannel = append(info.ForegroundPerChannel, StatsOf(all))
		s := make([]float32, len(pick))
		for i, j := range pick {
			s[i] = d[j]
		}
		samples[ch] = s
	}
	return info, samples, nil
}

// StatsOf computes Stats of x (zero Stats when empty).
func StatsOf(x []float32) Stats {
	if len(x) == 0 {
		return Stats{}
	}
	v := make([]float64, len(x))
	var s float64
	for i, a := range x {
		v[i] = float64(a)
		s += v[i]
	}
	mean := s / float64(len(v))
	var s2 float64
	for _, a := range v {
		s2 += (a - mean) * (a - mean)
	}
	sort.Float64s(v)
	return Stats{N: len(v), Mean: mean, Std: math.Sqrt(s2 / float64(len(v))), Min: v[0], Max: v[len(v)-1],
		Median: Percentile(v, 50), P005: Percentile(v, 0.5), P995: Percentile(v, 99.5)}
}

// Percentile returns the q-th percentile (0..100) of sorted values with linear
// interpolation between ranks.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	r := q / 100 * float64(len(sorted)-1)
	i := int(math.Floor(r))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (r-float64(i))*(sorted[i+1]-sorted[i])
}

// Save writes f as indented JSON, atomically.
func (f *Fingerprint) Save(path string) error {
	b, err := IndentJSON(f)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

// flatArray matches an indented JSON array of scalars.
var flatArray = regexp.MustCompile(`\[\n\s*([^\[\]{}\n]+(?:,\n\s*[^\[\]{}\n]+)*)\n\s*\]`)
var arraySep = regexp.MustCompile(`,\n\s*`)

// IndentJSON marshals v with two-space indentation, keeping arrays of
// scalars on one line ("spacing": [1, 1, 1]) so files stay easy to read and
// edit. It ends with a newline.
func IndentJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	b = flatArray.ReplaceAllFunc(b, func(m []byte) []byte {
		inner := flatArray.FindSubmatch(m)[1]
		return append(append([]byte("["), arraySep.ReplaceAll(inner, []byte(", "))...), ']')
	})
	return append(b, '\n'), nil
}

// Load reads a fingerprint written by Save.
func Load(path string) (*Fingerprint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fingerprint: %w", err)
	}
	var f Fingerprint
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("fingerprint: %s: %w", path, err)
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("fingerprint: %s: no cases", path)
	}
	return &f, nil
}
