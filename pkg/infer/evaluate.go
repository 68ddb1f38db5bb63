package infer

import (
	"fmt"

	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/preprocess"
)

// EvaluateCases segments preprocessed cases (sliding window) and scores them against their labels
// in the preprocessed grid: per-case Dice and HD95 and their means. progress, if set, is called
// after each case.
func (p *Predictor) EvaluateCases(cases []*preprocess.Case, opts metrics.Options, progress func(done, total int, r metrics.CaseResult)) (metrics.Table, error) {
	var results []metrics.CaseResult
	for i, c := range cases {
		if c.Label == nil {
			return metrics.Table{}, fmt.Errorf("infer: case %s has no label", c.ID)
		}
		pred, err := p.Segment(c.Image)
		if err != nil {
			return metrics.Table{}, fmt.Errorf("infer: case %s: %w", c.ID, err)
		}
		r, err := metrics.EvaluateVolumes(c.ID, c.Label, pred, opts)
		if err != nil {
			return metrics.Table{}, err
		}
		results = append(results, r)
		if progress != nil {
			progress(i+1, len(cases), r)
		}
	}
	return metrics.Summarize(results), nil
}
