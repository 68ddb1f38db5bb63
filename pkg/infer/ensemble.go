package infer

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/gomlx/gomlx/backends"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Ensemble segments with several trained models, as nnU-Net predicts with the models of its five
// cross-validation folds: each member preprocesses the image with its own Steps, and the mean of
// the members' class probabilities in the image's geometry is turned into labels (argmax, then
// Postprocessing).
type Ensemble struct {
	Members []*Predictor
	// Postprocessing is applied to the ensemble's label map (LoadEnsemble: the members' rules
	// when they all have the same, else none).
	Postprocessing Postprocessing
}

// LoadEnsemble loads the latest checkpoint of each run directory (Load). The models must predict
// the same classes with the same label values.
func LoadEnsemble(backend backends.Backend, dirs ...string) (*Ensemble, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("infer: an ensemble needs at least one model directory")
	}
	e := &Ensemble{}
	for i, dir := range dirs {
		p, _, err := Load(backend, dir)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			first := e.Members[0]
			if p.Model.NumClasses != first.Model.NumClasses || !slices.Equal(p.LabelValues, first.LabelValues) {
				return nil, fmt.Errorf("infer: %s predicts %d classes with label values %v, but %s predicts %d with %v: not one ensemble",
					dir, p.Model.NumClasses, p.LabelValues, dirs[0], first.Model.NumClasses, first.LabelValues)
			}
		}
		e.Members = append(e.Members, p)
	}
	e.Postprocessing = e.Members[0].Postprocessing
	for _, m := range e.Members[1:] {
		if !reflect.DeepEqual(m.Postprocessing, e.Postprocessing) {
			e.Postprocessing = Postprocessing{}
		}
	}
	return e, nil
}

// PredictCase segments an original image: the members' mean probabilities in img's geometry,
// argmax to the label values, then e.Postprocessing.
func (e *Ensemble) PredictCase(img *volume.Volume) (*volume.Volume, error) {
	if len(e.Members) == 0 {
		return nil, fmt.Errorf("infer: empty ensemble")
	}
	var sum *volume.Volume
	for i, m := range e.Members {
		probs, err := m.OriginalProbabilities(img, m.Steps)
		if err != nil {
			return nil, fmt.Errorf("model %d of the ensemble: %w", i+1, err)
		}
		if sum == nil {
			sum = probs
			continue
		}
		if len(probs.Data) != len(sum.Data) {
			return nil, fmt.Errorf("infer: model %d of the ensemble gives %d probability values, model 1 %d", i+1, len(probs.Data), len(sum.Data))
		}
		for j, v := range probs.Data {
			sum.Data[j] += v
		}
	}
	// The argmax of the sum is that of the mean.
	return e.Postprocessing.Apply(Argmax(sum, e.Members[0].LabelValues)), nil
}

// PredictFile segments the NIfTI image at in and writes the label map (uint8, the input's affine)
// to out.
func (e *Ensemble) PredictFile(in, out string) error {
	return predictFile(in, out, e.PredictCase)
}
