package msd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Case is one labelled training case.
type Case struct {
	// ID is the image file name without ".nii.gz", e.g. "hippocampus_001".
	ID string
	// Image and Label are the paths of the NIfTI files.
	Image, Label string
	// NumClasses is the number of label values (0..NumClasses-1) declared
	// by dataset.json; LoadCase rejects labels outside. 0 skips the check.
	NumClasses int
	// Channels is the number of modalities declared by dataset.json; 0
	// skips the check.
	Channels int
}

// Dataset is an MSD set opened from its dataset.json.
type Dataset struct {
	// Dir is the set's folder.
	Dir string
	// Task is the registry entry when the folder name is a known task;
	// otherwise one built from dataset.json (Number 0, MD5 empty).
	Task Task
	// Fields of dataset.json.
	Name, Description, Reference, Licence, Release, TensorImageSize string
	// Modalities and Labels index the "modality" and "labels" maps by their
	// integer keys.
	Modalities []string
	Labels     []string
	// NumTraining is dataset.json's count (len(Cases) is what was found).
	NumTraining int
	// Cases are the training cases in dataset.json order.
	Cases []Case
	// Test holds the paths of the test images.
	Test []string
}

type datasetJSON struct {
	Name            string            `json:"name"`
	Description     string            `json:"description"`
	Reference       string            `json:"reference"`
	Licence         string            `json:"licence"`
	License         string            `json:"license"`
	Release         string            `json:"release"`
	Relase          string            `json:"relase"` // MSD's own spelling
	TensorImageSize string            `json:"tensorImageSize"`
	Modality        map[string]string `json:"modality"`
	Labels          map[string]string `json:"labels"`
	NumTraining     *int              `json:"numTraining"`
	Training        []struct {
		Image string `json:"image"`
		Label string `json:"label"`
	} `json:"training"`
	Test []string `json:"test"`
}

// Open reads root/name/dataset.json (name is the set's folder, e.g.
// "Task04_Hippocampus"). See OpenDir.
func Open(root, name string) (*Dataset, error) {
	return OpenDir(filepath.Join(root, name))
}

// OpenDir reads dir/dataset.json, resolves the case paths (MSD paths start
// with "./" and are relative to dir), skips "._*" entries and checks that
// every listed file exists.
func OpenDir(dir string) (*Dataset, error) {
	file := filepath.Join(dir, "dataset.json")
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("msd: %s: no dataset.json (not an MSD set, or not extracted)", file)
		}
		return nil, fmt.Errorf("msd: %w", err)
	}
	var j datasetJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("msd: %s: invalid JSON: %w", file, err)
	}
	ds := &Dataset{Dir: dir, Name: j.Name, Description: j.Description, Reference: j.Reference,
		Licence: j.Licence, Release: j.Release, TensorImageSize: j.TensorImageSize}
	if ds.Licence == "" {
		ds.Licence = j.License
	}
	if ds.Release == "" {
		ds.Release = j.Relase
	}
	if ds.Modalities, err = indexedNames(j.Modality); err != nil {
		return nil, fmt.Errorf("msd: %s: \"modality\": %w", file, err)
	}
	if ds.Labels, err = indexedNames(j.Labels); err != nil {
		return nil, fmt.Errorf("msd: %s: \"labels\": %w", file, err)
	}
	if len(ds.Modalities) == 0 {
		return nil, fmt.Errorf("msd: %s: no \"modality\" entries", file)
	}
	if len(ds.Labels) < 2 {
		return nil, fmt.Errorf("msd: %s: \"labels\" needs background and at least one class", file)
	}
	if j.Training == nil {
		return nil, fmt.Errorf("msd: %s: no \"training\" list", file)
	}
	var missing []string
	exists := func(p string) {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	ids := map[string]int{}
	for i, e := range j.Training {
		if e.Image == "" || e.Label == "" {
			return nil, fmt.Errorf("msd: %s: training[%d] needs both \"image\" and \"label\"", file, i)
		}
		if isAppleDouble(e.Image) {
			continue
		}
		img, err := resolve(dir, e.Image)
		if err != nil {
			return nil, fmt.Errorf("msd: %s: training[%d] image: %w", file, i, err)
		}
		lbl, err := resolve(dir, e.Label)
		if err != nil {
			return nil, fmt.Errorf("msd: %s: training[%d] label: %w", file, i, err)
		}
		id := caseID(img)
		if prev, dup := ids[id]; dup {
			return nil, fmt.Errorf("msd: %s: training[%d] and training[%d] have the same case ID %q", file, prev, i, id)
		}
		ids[id] = i
		exists(img)
		exists(lbl)
		ds.Cases = append(ds.Cases, Case{ID: id, Image: img, Label: lbl, NumClasses: len(ds.Labels), Channels: len(ds.Modalities)})
	}
	for i, e := range j.Test {
		if isAppleDouble(e) {
			continue
		}
		p, err := resolve(dir, e)
		if err != nil {
			return nil, fmt.Errorf("msd: %s: test[%d]: %w", file, i, err)
		}
		exists(p)
		ds.Test = append(ds.Test, p)
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 5 {
			more = fmt.Sprintf(" and %d more", len(missing)-5)
			missing = missing[:5]
		}
		return nil, fmt.Errorf("msd: %s lists missing files: %s%s", file, strings.Join(missing, ", "), more)
	}
	ds.NumTraining = len(ds.Cases)
	if j.NumTraining != nil {
		ds.NumTraining = *j.NumTraining
	}
	if t, err := Lookup(filepath.Base(filepath.Clean(dir))); err == nil && t.Name == filepath.Base(filepath.Clean(dir)) {
		ds.Task = t
	} else {
		ds.Task = Task{Name: filepath.Base(filepath.Clean(dir)), Description: ds.Description,
			Modalities: ds.Modalities, Labels: ds.Labels, Dims: 3, Kind: MRI}
		if strings.EqualFold(ds.TensorImageSize, "4D") {
			ds.Task.Dims = 4
		}
		if len(ds.Modalities) == 1 && strings.EqualFold(ds.Modalities[0], "CT") {
			ds.Task.Kind = CT
		}
	}
	return ds, nil
}

// IDs returns the case IDs in dataset.json order.
func (ds *Dataset) IDs() []string {
	ids := make([]string, len(ds.Cases))
	for i, c := range ds.Cases {
		ids[i] = c.ID
	}
	return ids
}

// Case returns the case with the given ID.
func (ds *Dataset) Case(id string) (Case, error) {
	for _, c := range ds.Cases {
		if c.ID == id {
			return c, nil
		}
	}
	return Case{}, fmt.Errorf("msd: %s: no case %q", ds.Dir, id)
}

// Subset returns the cases with the given IDs, in that order.
func (ds *Dataset) Subset(ids []string) ([]Case, error) {
	out := make([]Case, len(ids))
	for i, id := range ids {
		c, err := ds.Case(id)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// indexedNames turns {"0": "a", "1": "b"} into ["a", "b"]; keys must be the
// integers 0..n-1.
func indexedNames(m map[string]string) ([]string, error) {
	out := make([]string, len(m))
	seen := make([]bool, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || i < 0 || i >= len(m) || seen[i] {
			return nil, fmt.Errorf("keys must be the integers 0..%d, got %q", len(m)-1, k)
		}
		seen[i] = true
		out[i] = m[k]
	}
	return out, nil
}

func isAppleDouble(p string) bool { return strings.HasPrefix(path.Base(filepath.ToSlash(p)), "._") }

// resolve turns a dataset.json path ("./imagesTr/x.nii.gz") into a path under
// dir, refusing absolute paths and paths leaving dir.
func resolve(dir, p string) (string, error) {
	clean, err := safeName(p)
	if err != nil {
		return "", fmt.Errorf("%q: %w", p, err)
	}
	if clean == "." {
		return "", fmt.Errorf("%q is not a file", p)
	}
	return filepath.Join(dir, filepath.FromSlash(clean)), nil
}

// caseID is the file name without its NIfTI extension.
func caseID(p string) string {
	b := filepath.Base(p)
	for _, ext := range []string{".nii.gz", ".nii", ".hdr", ".img", ".gz"} {
		if s, ok := strings.CutSuffix(b, ext); ok {
			return s
		}
	}
	return b
}

// FindSets lists the folders directly under root holding a dataset.json,
// sorted by name. A missing root gives an empty list.
func FindSets(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("msd: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), "dataset.json")); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
