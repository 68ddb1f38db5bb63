// Package preprocess runs the plan's preprocessing (reorient, crop to nonzero,
// normalise, resample; volume.Prepare) on every training case and caches the
// result on disk under <data root>/preprocessed/<dataset>/<plan hash>/, where
// the hash covers exactly the plan fields that change the preprocessed data
// (plans.PreprocessHash): a changed plan gets a new folder, so stale data is
// never read, while editing patch or batch sizes keeps the cache.
//
// Each case is one file <id>.case: a small JSON header (geometry, transform
// record, source file sizes and times, plan hash), the image channels as
// float32, the labels as uint8, the sampled foreground locations per class
// (as nnU-Net: up to 10000 voxels per class, at least 1% of that class's
// voxels, drawn at random with a per-case seed) and a CRC-32 of everything
// before it. Files are written to a temporary name and renamed, so a crash
// never leaves a half-written case under its final name (they are not fsynced:
// after a power loss a damaged file fails its checksum and Build rebuilds it);
// a case whose sources or plan changed is rebuilt too.
//
// Setup is the one-call entry point: fingerprint (cached as fingerprint.json),
// plan (plans.json, reused when present so that a person's edits apply) and
// cache, all under <data root>/preprocessed/<dataset>/.
//
// Unlike nnU-Net, label voxels outside the nonzero mask keep their label (0)
// instead of becoming -1; the mask is used only for normalisation.
package preprocess

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msdkit/msdkit/pkg/parallel"

	"github.com/msdkit/msdkit/pkg/atomicfile"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/volume"
)

// Foreground location sampling (nnU-Net's defaults).
const (
	MaxLocationsPerClass = 10000
	MinLocationCoverage  = 0.01
)

// Case is a preprocessed case, ready for patch sampling.
type Case struct {
	ID string
	// Image holds the normalised channels at the plan's spacing.
	Image *volume.Volume
	// Label is the label map on the same grid (nil for unlabelled cases).
	Label *volume.Volume
	// Record maps outputs back to the original file's geometry.
	Record *volume.Record
	// Locations[l] are voxel indices (x + X*(y + Y*z)) of label l (l > 0), a
	// random sample for foreground oversampling.
	Locations map[int][]int32
}

// Coord returns the (x, y, z) of voxel index i of c's grid.
func (c *Case) Coord(i int32) [3]int {
	X, Y := c.Image.Shape[0], c.Image.Shape[1]
	j := int(i)
	return [3]int{j % X, (j / X) % Y, j / (X * Y)}
}

// Process preprocesses one case (label may be "" for an unlabelled image).
func Process(p *plans.Plans, c fingerprint.Case) (*Case, error) {
	img, err := volume.Read(c.Image)
	if err != nil {
		return nil, fmt.Errorf("preprocess: case %s: %w", c.ID, err)
	}
	var lbl *volume.Volume
	if c.Label != "" {
		if lbl, err = volume.Read(c.Label); err != nil {
			return nil, fmt.Errorf("preprocess: case %s: %w", c.ID, err)
		}
		counts, err := lbl.LabelCounts()
		if err != nil {
			return nil, fmt.Errorf("preprocess: case %s: %s: %w", c.ID, c.Label, err)
		}
		for l := range counts {
			if sort.SearchInts(p.Labels, l) == len(p.Labels) || p.Labels[sort.SearchInts(p.Labels, l)] != l {
				return nil, fmt.Errorf("preprocess: case %s: %s has label %d, the plan knows %v", c.ID, c.Label, l, p.Labels)
			}
		}
	}
	if img.Channels != len(p.Normalization) {
		return nil, fmt.Errorf("preprocess: case %s: %s has %d channels, the plan %d", c.ID, c.Image, img.Channels, len(p.Normalization))
	}
	pi, pl, rec, err := volume.Prepare(img, lbl, p.PreprocessSteps())
	if err != nil {
		return nil, fmt.Errorf("preprocess: case %s (%s): %w", c.ID, c.Image, err)
	}
	out := &Case{ID: c.ID, Image: pi, Label: pl, Record: rec}
	if pl != nil {
		out.Locations = SampleLocations(pl, c.ID)
	}
	return out, nil
}

// SampleLocations draws the foreground locations of each label > 0 of a label
// map, seeded by id.
func SampleLocations(lbl *volume.Volume, id string) map[int][]int32 {
	all := map[int][]int32{}
	for i, x := range lbl.Data {
		if x > 0 {
			all[int(x)] = append(all[int(x)], int32(i))
		}
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(h.Sum64(), 1234))
	out := map[int][]int32{}
	for l, locs := range all {
		n := min(MaxLocationsPerClass, len(locs))
		n = max(n, int(math.Ceil(float64(len(locs))*MinLocationCoverage)))
		if n < len(locs) {
			rng.Shuffle(len(locs), func(i, j int) { locs[i], locs[j] = locs[j], locs[i] })
			locs = locs[:n]
			sort.Slice(locs, func(i, j int) bool { return locs[i] < locs[j] })
		}
		out[l] = locs
	}
	return out
}

// Dir is the cache folder of plan p under a data root.
func Dir(root string, p *plans.Plans) string {
	return filepath.Join(root, "preprocessed", p.Dataset, p.PreprocessHash())
}

// Options of Build.
type Options struct {
	// Workers is the number of cases processed at once (GOMAXPROCS).
	Workers int
	// Progress receives progress lines (nil: silent).
	Progress io.Writer
	// Force rebuilds cases that are up to date.
	Force bool
	// RemoveStale deletes sibling cache folders of other plan hashes.
	RemoveStale bool
}

// Manifest describes a cache folder (manifest.json).
type Manifest struct {
	Dataset  string       `json:"dataset"`
	PlanHash string       `json:"plan_hash"`
	Steps    volume.Steps `json:"steps"`
	Labels   []int        `json:"labels"`
	Cases    []string     `json:"cases"`
	Built    time.Time    `json:"built"`
}

// Stats reports what Build did.
type Stats struct {
	Built, UpToDate int
}

// Build preprocesses cases into dir (usually Dir(root, p)) in parallel,
// skipping cases whose file is current, and writes the manifest and a copy of
// the plan.
func Build(dir string, p *plans.Plans, cases []fingerprint.Case, opt Options) (*Cache, Stats, error) {
	var st Stats
	if err := p.Validate(); err != nil {
		return nil, st, fmt.Errorf("preprocess: %w", err)
	}
	if len(cases) == 0 {
		return nil, st, fmt.Errorf("preprocess: no cases")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, st, fmt.Errorf("preprocess: %w", err)
	}
	hash := p.PreprocessHash()
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, len(cases))
	var done, built atomic.Int64
	var mu sync.Mutex
	start := time.Now()
	every := max(1, len(cases)/20)
	parallel.Each(len(cases), workers, func(i int) {
		c := cases[i]
		path := filepath.Join(dir, c.ID+".case")
		if opt.Force || !upToDate(path, hash, c) {
			errs[i] = buildCase(path, hash, p, c)
			built.Add(1)
		}
		n := done.Add(1)
		if opt.Progress != nil && (int(n)%every == 0 || int(n) == len(cases)) {
			mu.Lock()
			fmt.Fprintf(opt.Progress, "preprocess %s: %d/%d cases, %.1f s\n", p.Dataset, n, len(cases), time.Since(start).Seconds())
			mu.Unlock()
		}
	})
	st.Built = int(built.Load())
	st.UpToDate = len(cases) - st.Built
	if err := errors.Join(errs...); err != nil {
		return nil, st, err
	}
	m := Manifest{Dataset: p.Dataset, PlanHash: hash, Steps: p.PreprocessSteps(), Labels: p.Labels, Built: time.Now().UTC()}
	for _, c := range cases {
		m.Cases = append(m.Cases, c.ID)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(dir, "manifest.json"), append(b, '\n')); err != nil {
		return nil, st, fmt.Errorf("preprocess: %w", err)
	}
	if err := p.Save(filepath.Join(dir, "plans.json")); err != nil {
		return nil, st, fmt.Errorf("preprocess: %w", err)
	}
	if opt.RemoveStale {
		removeStale(dir)
	}
	c, err := Open(dir)
	return c, st, err
}

// removeStale deletes sibling folders that hold a cache manifest.
func removeStale(dir string) {
	parent, self := filepath.Dir(dir), filepath.Base(dir)
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name() == self {
			continue
		}
		d := filepath.Join(parent, e.Name())
		if _, err := os.Stat(filepath.Join(d, "manifest.json")); err == nil {
			os.RemoveAll(d)
		}
	}
}

// Cache is a built cache folder.
type Cache struct {
	Dir      string
	Manifest Manifest
}

// Open reads a cache folder's manifest.
func Open(dir string) (*Cache, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("preprocess: cache %s not built: %w", dir, err)
	}
	c := &Cache{Dir: dir}
	if err := json.Unmarshal(b, &c.Manifest); err != nil {
		return nil, fmt.Errorf("preprocess: %s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return c, nil
}

// Load reads one case of the cache.
func (c *Cache) Load(id string) (*Case, error) {
	return ReadCase(filepath.Join(c.Dir, id+".case"), c.Manifest.PlanHash)
}

// LoadAll reads every case, in parallel.
func (c *Cache) LoadAll() ([]*Case, error) {
	out := make([]*Case, len(c.Manifest.Cases))
	errs := make([]error, len(out))
	parallel.Each(len(out), 0, func(i int) {
		out[i], errs[i] = c.Load(c.Manifest.Cases[i])
	})
	return out, errors.Join(errs...)
}

// header is the JSON header of a .case file.
type header struct {
	ID       string         `json:"id"`
	PlanHash string         `json:"plan_hash"`
	Sources  []source       `json:"sources"`
	Shape    [3]int         `json:"shape"`
	Channels int            `json:"channels"`
	Spacing  [3]float64     `json:"spacing"`
	Affine   [4][4]float64  `json:"affine"`
	HasLabel bool           `json:"has_label"`
	Record   *volume.Record `json:"record"`
	Classes  []int          `json:"classes"`
	NumLocs  []int          `json:"num_locations"`
}

type source struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

const magic = "MSDKCAS1"

func sources(c fingerprint.Case) ([]source, error) {
	var out []source
	for _, p := range []string{c.Image, c.Label} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out = append(out, source{Path: p, Size: fi.Size(), ModTime: fi.ModTime().UTC()})
	}
	return out, nil
}

// upToDate reports whether the case file exists, is intact (checksum), and
// was made for this plan hash from unchanged sources.
func upToDate(path, hash string, c fingerprint.Case) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	body, err := checkCRC(path, b)
	if err != nil {
		return false
	}
	h, _, err := parseHeader(path, body)
	if err != nil || h.PlanHash != hash {
		return false
	}
	src, err := sources(c)
	if err != nil || len(src) != len(h.Sources) {
		return false
	}
	for i := range src {
		if src[i].Path != h.Sources[i].Path || src[i].Size != h.Sources[i].Size || !src[i].ModTime.Equal(h.Sources[i].ModTime) {
			return false
		}
	}
	return true
}

func buildCase(path, hash string, p *plans.Plans, c fingerprint.Case) error {
	src, err := sources(c)
	if err != nil {
		return fmt.Errorf("preprocess: case %s: %w", c.ID, err)
	}
	pc, err := Process(p, c)
	if err != nil {
		return err
	}
	b, err := encode(pc, hash, src)
	if err != nil {
		return fmt.Errorf("preprocess: case %s: %w", c.ID, err)
	}
	if err := atomicfile.WriteFileNoSync(path, b); err != nil {
		return fmt.Errorf("preprocess: case %s: %w", c.ID, err)
	}
	return nil
}

// WriteCase stores a preprocessed case at path (atomic rename, no fsync).
func WriteCase(path string, c *Case, planHash string) error {
	b, err := encode(c, planHash, nil)
	if err != nil {
		return fmt.Errorf("preprocess: %s: %w", path, err)
	}
	return atomicfile.WriteFileNoSync(path, b)
}

func encode(c *Case, hash string, src []source) ([]byte, error) {
	img := c.Image
	h := header{ID: c.ID, PlanHash: hash, Sources: src, Shape: img.Shape, Channels: img.Channels, Spacing: img.Spacing, Affine: img.Affine, HasLabel: c.Label != nil, Record: c.Record}
	for l := range c.Locations {
		h.Classes = append(h.Classes, l)
	}
	sort.Ints(h.Classes)
	for _, l := range h.Classes {
		h.NumLocs = append(h.NumLocs, len(c.Locations[l]))
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	n := img.NumVoxels()
	size := 16 + len(js) + 4*len(img.Data) + 4
	if c.Label != nil {
		if c.Label.Shape != img.Shape || c.Label.Channels != 1 {
			return nil, fmt.Errorf("label shape %v does not match image %v", c.Label.Shape, img.Shape)
		}
		size += n
	}
	for _, l := range h.Classes {
		size += 4 * len(c.Locations[l])
	}
	b := make([]byte, 0, size)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(js)))
	b = append(b, js...)
	for _, x := range img.Data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	if c.Label != nil {
		for i, x := range c.Label.Data {
			if !(x >= 0 && x <= 255) || x != float32(math.Round(float64(x))) {
				return nil, fmt.Errorf("label value %g at voxel %d is not in 0..255", x, i)
			}
			b = append(b, uint8(x))
		}
	}
	for _, l := range h.Classes {
		for _, i := range c.Locations[l] {
			b = binary.LittleEndian.AppendUint32(b, uint32(i))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func parseHeader(path string, b []byte) (*header, int, error) {
	if len(b) < 16 || string(b[:8]) != magic {
		return nil, 0, fmt.Errorf("preprocess: %s: not a preprocessed case file", path)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != 1 {
		return nil, 0, fmt.Errorf("preprocess: %s: format version %d, want 1", path, v)
	}
	n := int(binary.LittleEndian.Uint32(b[12:]))
	if n > len(b)-16 {
		return nil, 0, fmt.Errorf("preprocess: %s: truncated header", path)
	}
	var h header
	if err := json.Unmarshal(b[16:16+n], &h); err != nil {
		return nil, 0, fmt.Errorf("preprocess: %s: header: %w", path, err)
	}
	return &h, 16 + n, nil
}

// checkCRC verifies the trailing CRC-32 and returns the bytes before it.
func checkCRC(path string, b []byte) ([]byte, error) {
	if len(b) < 20 {
		return nil, fmt.Errorf("preprocess: %s: truncated (%d bytes)", path, len(b))
	}
	body := b[:len(b)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("preprocess: %s: checksum mismatch (corrupt or truncated file)", path)
	}
	return body, nil
}

// ReadCase reads a case file; planHash, when not empty, must match.
func ReadCase(path, planHash string) (*Case, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	body, err := checkCRC(path, b)
	if err != nil {
		return nil, err
	}
	h, off, err := parseHeader(path, body)
	if err != nil {
		return nil, err
	}
	if planHash != "" && h.PlanHash != planHash {
		return nil, fmt.Errorf("preprocess: %s: made for plan %s, not %s (rebuild the cache)", path, h.PlanHash, planHash)
	}
	img := &volume.Volume{Shape: h.Shape, Channels: h.Channels, Spacing: h.Spacing, Affine: h.Affine}
	if h.Channels < 1 || h.Shape[0] < 1 || h.Shape[1] < 1 || h.Shape[2] < 1 || len(h.Classes) != len(h.NumLocs) {
		return nil, fmt.Errorf("preprocess: %s: bad header (shape %v, %d channels)", path, h.Shape, h.Channels)
	}
	n := img.NumVoxels()
	want := off + 4*n*h.Channels
	if h.HasLabel {
		want += n
	}
	for _, k := range h.NumLocs {
		want += 4 * k
	}
	if want != len(body) {
		return nil, fmt.Errorf("preprocess: %s: %d bytes of data, header describes %d", path, len(body), want)
	}
	img.Data = make([]float32, n*h.Channels)
	for i := range img.Data {
		img.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[off+4*i:]))
	}
	off += 4 * len(img.Data)
	c := &Case{ID: h.ID, Image: img, Record: h.Record, Locations: map[int][]int32{}}
	if h.HasLabel {
		lbl := &volume.Volume{Shape: h.Shape, Channels: 1, Spacing: h.Spacing, Affine: h.Affine, Data: make([]float32, n)}
		for i := range lbl.Data {
			lbl.Data[i] = float32(body[off+i])
		}
		off += n
		c.Label = lbl
	}
	for k, l := range h.Classes {
		locs := make([]int32, h.NumLocs[k])
		for i := range locs {
			locs[i] = int32(binary.LittleEndian.Uint32(body[off+4*i:]))
			if locs[i] < 0 || int(locs[i]) >= n {
				return nil, fmt.Errorf("preprocess: %s: location %d outside the volume", path, locs[i])
			}
		}
		off += 4 * len(locs)
		c.Locations[l] = locs
	}
	return c, nil
}
