package infer

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/msdkit/msdkit/pkg/metrics"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/volume"
)

// PredictionsDir is the folder of a run directory that holds its validation predictions.
const PredictionsDir = "predictions"

// ValidateCases segments MSD cases in their original geometry (PredictCase with the run's
// preprocessing p.Steps, so the score is on the files' own grids, as nnU-Net's validation),
// writes each label map as outDir/<id>.nii.gz when outDir is set, and scores it against the
// case's label (Dice, HD95). progress, if set, is called after each case.
func (p *Predictor) ValidateCases(cases []msd.Case, opts metrics.Options, outDir string,
	progress func(done, total int, r metrics.CaseResult, took time.Duration)) (metrics.Table, error) {
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return metrics.Table{}, fmt.Errorf("infer: %w", err)
		}
	}
	var results []metrics.CaseResult
	for i, c := range cases {
		t0 := time.Now()
		img, lbl, err := msd.LoadCase(c)
		if err != nil {
			return metrics.Table{}, err
		}
		seg, err := p.PredictCase(img, p.Steps)
		if err != nil {
			return metrics.Table{}, fmt.Errorf("infer: predicting %s: %w", c.ID, err)
		}
		if outDir != "" {
			if err := volume.Write(filepath.Join(outDir, c.ID+".nii.gz"), seg, volume.Uint8); err != nil {
				return metrics.Table{}, err
			}
		}
		r, err := metrics.EvaluateVolumes(c.ID, lbl, seg, opts)
		if err != nil {
			return metrics.Table{}, err
		}
		results = append(results, r)
		if progress != nil {
			progress(i+1, len(cases), r, time.Since(t0))
		}
	}
	return metrics.Summarize(results), nil
}
