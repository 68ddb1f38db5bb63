// Package phantom generates synthetic segmentation cases with a structure a
// network can learn, shaped like the ten MSD tasks, so that tests and the
// notebooks' fast mode run everywhere without real data.
//
// A case holds one ellipsoid "organ" per foreground label. The ellipsoids touch
// along a random axis-aligned direction (like the hippocampus head and body),
// sit at a random position with random radii, and each has its own mean
// intensity in every channel; the background is a smooth gradient plus
// Gaussian noise. Labels are therefore recoverable from intensity and shape
// but not from a single threshold. CT phantoms use Hounsfield-like values
// (air -1000, soft tissue 40, organs 60-200); MRI phantoms positive arbitrary
// units that differ per channel, as MSD's multi-modal tasks do.
package phantom

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/volume"
)

// Spec is the geometry and content of generated cases.
type Spec struct {
	// Shape is the voxel count along x, y, z.
	Shape [3]int
	// Spacing is the voxel size in mm along x, y, z.
	Spacing [3]float64
	// Channels is the number of modalities (4D files when > 1).
	Channels int
	// NumClasses counts the label values including background 0.
	NumClasses int
	// CT selects Hounsfield-like intensities.
	CT bool
}

// SpecFor returns a small spec with the task's channels, labels, modality and
// typical (anisotropic where the task is) spacing; shapes are kept small so a
// fast-mode run takes seconds.
func SpecFor(t msd.Task) Spec {
	s := Spec{Shape: [3]int{48, 48, 32}, Spacing: [3]float64{1, 1, 1}, Channels: len(t.Modalities),
		NumClasses: len(t.Labels), CT: t.Kind == msd.CT}
	switch t.Number {
	case 1: // BrainTumour: 1 mm isotropic, 4 MRI channels
		s.Shape = [3]int{40, 48, 40}
	case 2: // Heart: 1.25 x 1.25 x 1.37 mm
		s.Shape, s.Spacing = [3]int{64, 64, 32}, [3]float64{1.25, 1.25, 1.37}
	case 4: // Hippocampus: 1 mm, about 36 x 50 x 35
		s.Shape = [3]int{36, 50, 35}
	case 5: // Prostate: thick slices, T2 + ADC
		s.Shape, s.Spacing = [3]int{64, 64, 16}, [3]float64{0.62, 0.62, 3.6}
	default: // CT tasks: in-plane sub-mm, thick slices
		s.Shape, s.Spacing = [3]int{64, 64, 24}, [3]float64{0.8, 0.8, 2.5}
	}
	if s.Channels < 1 {
		s.Channels = 1
	}
	return s
}

// Validate checks the spec.
func (s Spec) Validate() error {
	for i := 0; i < 3; i++ {
		if s.Shape[i] < 8 || s.Spacing[i] <= 0 {
			return fmt.Errorf("phantom: axis %d: shape %d (want >= 8), spacing %g (want > 0)", i, s.Shape[i], s.Spacing[i])
		}
	}
	if s.Channels < 1 || s.NumClasses < 2 || s.NumClasses > 16 {
		return fmt.Errorf("phantom: %d channels, %d classes (want >= 1 channel, 2..16 classes)", s.Channels, s.NumClasses)
	}
	return nil
}

// Case generates one case from seed: an image with s.Channels channels and a
// label volume (one channel, values 0..NumClasses-1).
func Case(s Spec, seed uint64) (img, lbl *volume.Volume, err error) {
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	img = volume.New(s.Shape, s.Channels, s.Spacing)
	lbl = volume.New(s.Shape, 1, s.Spacing)
	k := s.NumClasses - 1
	// Radii in voxels, about a sixth of the smallest extent in mm, and the
	// direction along which the blobs line up.
	minMM := math.Inf(1)
	for i := 0; i < 3; i++ {
		minMM = math.Min(minMM, float64(s.Shape[i])*s.Spacing[i])
	}
	axis := r.IntN(2) // x or y: blobs touch in-plane
	type blob struct{ c, rad [3]float64 }
	blobs := make([]blob, k)
	var start [3]float64
	for i := 0; i < 3; i++ {
		start[i] = float64(s.Shape[i]) * (0.35 + 0.1*r.Float64())
	}
	pos := start
	for b := 0; b < k; b++ {
		var rad [3]float64
		for i := 0; i < 3; i++ {
			rad[i] = minMM / 6 * (0.8 + 0.5*r.Float64()) / s.Spacing[i] / math.Sqrt(float64(k))
			rad[i] = math.Max(rad[i], 1.5)
		}
		if b > 0 { // touch the previous blob along axis
			pos[axis] += blobs[b-1].rad[axis] + rad[axis]*0.9
		}
		blobs[b] = blob{c: pos, rad: rad}
	}
	// Per-channel class intensities.
	means := make([][]float64, s.Channels)
	for c := range means {
		means[c] = make([]float64, s.NumClasses)
		for l := 0; l < s.NumClasses; l++ {
			if s.CT {
				means[c][l] = 40 + float64(l)*(50+20*r.Float64())
			} else {
				means[c][l] = (200 + float64(l)*(150+50*r.Float64())) * (1 + 0.3*float64(c))
				if c%2 == 1 { // second modality inverts contrast, like T2 vs ADC
					means[c][l] = 900 - 0.6*means[c][l]
				}
			}
		}
	}
	noise := 12.0
	if s.CT {
		noise = 15
	}
	n := img.NumVoxels()
	for z := 0; z < s.Shape[2]; z++ {
		for y := 0; y < s.Shape[1]; y++ {
			for x := 0; x < s.Shape[0]; x++ {
				p := [3]float64{float64(x), float64(y), float64(z)}
				l := 0
				for b := k - 1; b >= 0; b-- {
					d := 0.0
					for i := 0; i < 3; i++ {
						t := (p[i] - blobs[b].c[i]) / blobs[b].rad[i]
						d += t * t
					}
					if d <= 1 {
						l = b + 1
						break
					}
				}
				idx := img.Index(x, y, z)
				lbl.Data[idx] = float32(l)
				body := 1.0 // CT: air outside an elliptic body
				if s.CT {
					dx := (p[0]/float64(s.Shape[0]) - 0.5) / 0.46
					dy := (p[1]/float64(s.Shape[1]) - 0.5) / 0.42
					if dx*dx+dy*dy > 1 {
						body = 0
					}
				}
				grad := 0.1 * p[2] / float64(s.Shape[2])
				for c := 0; c < s.Channels; c++ {
					v := means[c][l] * (1 + grad)
					if body == 0 && l == 0 {
						v = -1000
					}
					img.Data[c*n+idx] = float32(v + noise*r.NormFloat64())
				}
			}
		}
	}
	return img, lbl, nil
}

// datasetJSON is the subset of MSD's dataset.json the toolkit writes.
type datasetJSON struct {
	Name            string              `json:"name"`
	Description     string              `json:"description"`
	Reference       string              `json:"reference"`
	Licence         string              `json:"licence"`
	TensorImageSize string              `json:"tensorImageSize"`
	Modality        map[string]string   `json:"modality"`
	Labels          map[string]string   `json:"labels"`
	NumTraining     int                 `json:"numTraining"`
	NumTest         int                 `json:"numTest"`
	Training        []map[string]string `json:"training"`
	Test            []string            `json:"test"`
}

// WriteSet writes n generated cases of task t with spec s as an MSD-layout
// set at dir (imagesTr/, labelsTr/, dataset.json). The set is built in a
// temporary sibling folder and renamed into place, so dir never holds half a
// set; an existing dir is an error.
func WriteSet(dir string, t msd.Task, s Spec, n int, seed uint64) error {
	if n < 1 {
		return fmt.Errorf("phantom: %d cases requested for %s", n, dir)
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("phantom: %s already exists", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	for _, sub := range []string{"imagesTr", "labelsTr"} {
		if err := os.Mkdir(filepath.Join(tmp, sub), 0o755); err != nil {
			return err
		}
	}
	short := t.Name
	if i := len("TaskNN_"); len(short) > i {
		short = short[i:]
	}
	dj := datasetJSON{Name: short, Description: "Synthetic phantom of " + t.Name + " (generated by msdkit/pkg/phantom)",
		Reference: "msdkit phantom", Licence: "CC-BY-SA 4.0", TensorImageSize: "3D",
		Modality: map[string]string{}, Labels: map[string]string{}, NumTraining: n, Test: []string{}}
	if s.Channels > 1 {
		dj.TensorImageSize = "4D"
	}
	for i := 0; i < s.Channels; i++ {
		name := fmt.Sprintf("channel%d", i)
		if i < len(t.Modalities) {
			name = t.Modalities[i]
		}
		dj.Modality[fmt.Sprint(i)] = name
	}
	for l := 0; l < s.NumClasses; l++ {
		name := fmt.Sprintf("label%d", l)
		if l < len(t.Labels) {
			name = t.Labels[l]
		}
		dj.Labels[fmt.Sprint(l)] = name
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s_%03d", stem(short), i)
		img, lbl, err := Case(s, seed+uint64(i))
		if err != nil {
			return err
		}
		if err := volume.Write(filepath.Join(tmp, "imagesTr", id+".nii.gz"), img, volume.Float32); err != nil {
			return err
		}
		if err := volume.Write(filepath.Join(tmp, "labelsTr", id+".nii.gz"), lbl, volume.Uint8); err != nil {
			return err
		}
		dj.Training = append(dj.Training, map[string]string{"image": "./imagesTr/" + id + ".nii.gz", "label": "./labelsTr/" + id + ".nii.gz"})
	}
	b, err := json.MarshalIndent(dj, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "dataset.json"), b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// stem lower-cases a set name for case IDs ("Hippocampus" -> "hippocampus").
func stem(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Open returns the named MSD set from root when it is there. Otherwise, in
// fast mode (msd.FastMode, MSD_FAST=1) it returns a set of n generated
// phantoms of that task, written once under root/phantoms/; outside fast mode a
// missing set is an error that says how to get it. synthetic reports which.
func Open(root, name string, n int) (ds *msd.Dataset, synthetic bool, err error) {
	t, err := msd.Lookup(name)
	if err != nil {
		return nil, false, err
	}
	setDir := filepath.Join(root, t.Name)
	if _, err := os.Stat(filepath.Join(setDir, "dataset.json")); err == nil {
		ds, err := msd.OpenDir(setDir)
		return ds, false, err
	}
	if !msd.FastMode() {
		return nil, false, fmt.Errorf("%s not found under %s: download it with notebooks/data/Download_Sets.ipynb "+
			"or `go run ./cmd/msdkit download -task %s`, or set MSD_DATA to a folder holding it (MSD_FAST=1 uses generated phantoms)",
			t.Name, root, t.Name)
	}
	dir := filepath.Join(root, "phantoms", fmt.Sprintf("%s-n%d", t.Name, n))
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := WriteSet(dir, t, SpecFor(t), n, uint64(t.Number)*1000); err != nil {
			return nil, true, err
		}
	}
	ds, err = msd.OpenDir(dir)
	return ds, true, err
}
