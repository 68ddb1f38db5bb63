package infer

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/msdkit/msdkit/pkg/atomicfile"
	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/volume"
)

// PostprocessingFile is the name of a run directory's postprocessing rules.
const PostprocessingFile = "postprocessing.json"

// Postprocessing is nnU-Net's connected-component postprocessing of label maps: keep only the
// largest 6-connected component of the whole foreground and/or of single labels (removed voxels
// become background), each rule kept only where it raised the validation Dice
// (DeterminePostprocessing).
type Postprocessing struct {
	// LargestForeground keeps the largest component of all foreground labels together.
	LargestForeground bool `json:"largest_foreground"`
	// LargestOf lists the label values reduced to their largest component, in order.
	LargestOf []int `json:"largest_of_labels"`
}

// Apply returns a copy of the label map v with the rules applied.
func (pp Postprocessing) Apply(v *volume.Volume) *volume.Volume {
	out := v.Clone()
	if pp.LargestForeground {
		keepLargest(out, func(x float32) bool { return x != 0 })
	}
	for _, l := range pp.LargestOf {
		keepLargest(out, func(x float32) bool { return x == float32(l) })
	}
	return out
}

// keepLargest sets to background the voxels of v selected by sel outside their largest component.
func keepLargest(v *volume.Volume, sel func(float32) bool) {
	mask := make([]bool, v.NumVoxels())
	for i := range mask {
		mask[i] = sel(v.Data[i])
	}
	keep := volume.LargestComponent(mask, v.Shape)
	for i, m := range mask {
		if m && !keep[i] {
			v.Data[i] = 0
		}
	}
}

// DeterminePostprocessing chooses the rules as nnU-Net does on validation predictions: first
// "largest foreground component", kept if it raises the mean Dice over labels; then, on the
// result, "largest component" of each label, kept if it raises that label's Dice. It returns the
// rules and the scores of the raw and of the postprocessed predictions. refs and preds are label
// maps of the cases ids, pairwise on the same grid.
func DeterminePostprocessing(ids []string, refs, preds []*volume.Volume, opts metrics.Options) (pp Postprocessing, before, after metrics.Table, err error) {
	if len(ids) != len(refs) || len(ids) != len(preds) || len(ids) == 0 {
		return pp, before, after, fmt.Errorf("infer: postprocessing needs matching cases, got %d ids, %d references, %d predictions", len(ids), len(refs), len(preds))
	}
	score := func(rules Postprocessing) (metrics.Table, error) {
		var rs []metrics.CaseResult
		for i, id := range ids {
			r, err := metrics.EvaluateVolumes(id, refs[i], rules.Apply(preds[i]), opts)
			if err != nil {
				return metrics.Table{}, err
			}
			rs = append(rs, r)
		}
		return metrics.Summarize(rs), nil
	}
	if before, err = score(pp); err != nil {
		return pp, before, after, err
	}
	after = before
	cand := Postprocessing{LargestForeground: true}
	t, err := score(cand)
	if err != nil {
		return pp, before, after, err
	}
	if t.MeanDice > after.MeanDice {
		pp, after = cand, t
	}
	for _, m := range before.Mean {
		cand := Postprocessing{LargestForeground: pp.LargestForeground, LargestOf: append(append([]int{}, pp.LargestOf...), m.Label)}
		t, err := score(cand)
		if err != nil {
			return pp, before, after, err
		}
		if labelDice(t, m.Label) > labelDice(after, m.Label) {
			pp, after = cand, t
		}
	}
	return pp, before, after, nil
}

func labelDice(t metrics.Table, label int) float64 {
	for _, m := range t.Mean {
		if m.Label == label {
			return float64(m.Dice)
		}
	}
	return 0
}

// Save writes the rules as JSON (temporary file, then rename).
func (pp Postprocessing) Save(path string) error {
	b, err := json.MarshalIndent(pp, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// LoadPostprocessing reads rules written by Save; a missing file means no rules (ok false).
func LoadPostprocessing(path string) (pp Postprocessing, ok bool, err error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return pp, false, nil
	}
	if err != nil {
		return pp, false, err
	}
	if err := json.Unmarshal(b, &pp); err != nil {
		return pp, false, fmt.Errorf("infer: %s: %w", path, err)
	}
	return pp, true, nil
}
