package fingerprint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// InputFromFolder reads an MSD task folder's dataset.json (modality, labels
// and the training list) into an Input. Paths are resolved against dir.
func InputFromFolder(dir string) (Input, error) {
	var in Input
	p := filepath.Join(dir, "dataset.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return in, fmt.Errorf("fingerprint: %w", err)
	}
	var ds struct {
		Modality map[string]string `json:"modality"`
		Labels   map[string]string `json:"labels"`
		Training []struct {
			Image string `json:"image"`
			Label string `json:"label"`
		} `json:"training"`
	}
	if err := json.Unmarshal(b, &ds); err != nil {
		return in, fmt.Errorf("fingerprint: %s: %w", p, err)
	}
	in.Name = filepath.Base(filepath.Clean(dir))
	in.Modalities = make([]string, len(ds.Modality))
	for k, m := range ds.Modality {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(ds.Modality) {
			return in, fmt.Errorf("fingerprint: %s: modality key %q is not a channel index", p, k)
		}
		in.Modalities[i] = m
	}
	in.Labels = map[int]string{}
	for k, name := range ds.Labels {
		l, err := strconv.Atoi(k)
		if err != nil {
			return in, fmt.Errorf("fingerprint: %s: label key %q is not a number", p, k)
		}
		in.Labels[l] = name
	}
	for _, t := range ds.Training {
		if t.Image == "" || t.Label == "" {
			return in, fmt.Errorf("fingerprint: %s: training entry without image or label", p)
		}
		id := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(t.Image), ".gz"), ".nii")
		in.Cases = append(in.Cases, Case{ID: id, Image: filepath.Join(dir, t.Image), Label: filepath.Join(dir, t.Label)})
	}
	sort.Slice(in.Cases, func(i, j int) bool { return in.Cases[i].ID < in.Cases[j].ID })
	if len(in.Cases) == 0 {
		return in, fmt.Errorf("fingerprint: %s: no training cases", p)
	}
	return in, nil
}
