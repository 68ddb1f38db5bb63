package preprocess

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
)

// SetupOptions configure Setup.
type SetupOptions struct {
	// Plan options (memory budget, base filters, ...) for a new plan.
	Plan plans.Options
	// Replan makes a new plan even when plans.json exists.
	Replan bool
	// Progress receives progress lines (nil: silent).
	Progress io.Writer
	// Workers for fingerprinting and preprocessing (GOMAXPROCS).
	Workers int
}

// TaskDir is <root>/preprocessed/<dataset>, holding fingerprint.json,
// plans.json and one cache folder per plan hash.
func TaskDir(root, dataset string) string { return filepath.Join(root, "preprocessed", dataset) }

// Setup runs the nnU-Net preparation of an MSD set under a data root: the
// fingerprint (reused from fingerprint.json while the case list is the same),
// the plan (plans.json is reused when present, so a person may edit it and
// rerun; Replan overwrites it) and the preprocessed cache for that plan.
func Setup(root string, ds *msd.Dataset, opt SetupOptions) (*plans.Plans, *Cache, error) {
	in := fingerprint.FromDataset(ds)
	dir := TaskDir(root, in.Name)
	fpPath := filepath.Join(dir, "fingerprint.json")
	fp, err := fingerprint.Load(fpPath)
	if err != nil || !sameCases(fp, in) {
		if fp, err = fingerprint.Compute(in, fingerprint.Options{Workers: opt.Workers, Progress: opt.Progress}); err != nil {
			return nil, nil, err
		}
		if err := fp.Save(fpPath); err != nil {
			return nil, nil, fmt.Errorf("preprocess: %w", err)
		}
	}
	planPath := filepath.Join(dir, "plans.json")
	var p *plans.Plans
	if _, statErr := os.Stat(planPath); statErr == nil && !opt.Replan {
		if p, err = plans.Load(planPath); err != nil {
			return nil, nil, err
		}
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "using plan %s\n", planPath)
		}
	} else {
		if p, err = plans.Make(fp, opt.Plan); err != nil {
			return nil, nil, err
		}
		if err := p.Save(planPath); err != nil {
			return nil, nil, err
		}
	}
	cache, _, err := Build(Dir(root, p), p, in.Cases, Options{Workers: opt.Workers, Progress: opt.Progress})
	if err != nil {
		return nil, nil, err
	}
	return p, cache, nil
}

func sameCases(fp *fingerprint.Fingerprint, in fingerprint.Input) bool {
	if fp == nil || fp.Dataset != in.Name || len(fp.Cases) != len(in.Cases) || !slices.Equal(fp.Modalities, in.Modalities) {
		return false
	}
	for i := range fp.Cases {
		if fp.Cases[i].ID != in.Cases[i].ID {
			return false
		}
	}
	return true
}
