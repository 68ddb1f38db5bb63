package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/msdkit/msdkit/pkg/atomicfile"

	"github.com/msdkit/msdkit/pkg/baseline"
	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/preprocess"
)

// OpenTarget returns the target set by package baseline's rule: Task02_Heart under root when
// present, else LA2018_LeftAtrium in the same root, else (fast mode only) generated Task02_Heart
// phantoms under the runs folder; synthetic reports the last case.
func OpenTarget(root string) (ds *msd.Dataset, synthetic bool, err error) {
	s, err := baseline.OpenIn(root, TargetTask)
	if err != nil {
		return nil, false, err
	}
	return s.Dataset, s.Synthetic, nil
}

// OpenSource returns Task04_Hippocampus under root (or its phantoms in fast mode), by the same rule.
func OpenSource(root string) (*msd.Dataset, bool, error) {
	s, err := baseline.OpenIn(root, SourceTask)
	if err != nil {
		return nil, false, err
	}
	return s.Dataset, s.Synthetic, nil
}

// SplitIDs shuffles the sorted ids with a PCG generator seeded by seed and returns the first
// nTest as the test set and the rest (at most maxPool when > 0) as the training pool, both sorted.
func SplitIDs(ids []string, nTest, maxPool int, seed uint64) (test, pool []string, err error) {
	if nTest < 1 || nTest >= len(ids) {
		return nil, nil, fmt.Errorf("transfer: %d test cases out of %d leave no training case", nTest, len(ids))
	}
	s := slices.Clone(ids)
	slices.Sort(s)
	r := rand.New(rand.NewPCG(seed, 0x7e57))
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	test, pool = slices.Clone(s[:nTest]), slices.Clone(s[nTest:])
	if maxPool > 0 && len(pool) > maxPool {
		pool = pool[:maxPool]
	}
	slices.Sort(test)
	slices.Sort(pool)
	return test, pool, nil
}

// TrainingCases returns the n training cases of a seed: the first n of the pool shuffled with
// the seed (all of it, sorted, when n is 0 or at least the pool size). The arms of one seed get
// the same cases.
func TrainingCases(pool []string, n int, seed uint64) []string {
	if n <= 0 || n >= len(pool) {
		s := slices.Clone(pool)
		slices.Sort(s)
		return s
	}
	s := slices.Clone(pool)
	slices.Sort(s)
	r := rand.New(rand.NewPCG(seed, 0xca5e))
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	out := s[:n]
	slices.Sort(out)
	return out
}

// Compatible returns a copy of p whose 3D configuration has topology t (isotropic 2x pooling
// Levels-1 times, 3x3x3 convolutions, filters BaseFilters*2^l capped at MaxFilters), the patch
// (x, y, z) and batch size of b, and, when spacing is non-zero, that target spacing. The 2D
// configuration is dropped. Weights of two models built from Compatible plans with the same t
// are interchangeable except for the segmentation head (whose class count follows the labels).
func Compatible(p *plans.Plans, t Topology, b Budget, spacing [3]float64) (*plans.Plans, error) {
	raw, err := p.JSON()
	if err != nil {
		return nil, err
	}
	q, err := plans.Parse(raw)
	if err != nil {
		return nil, err
	}
	c, ok := q.Configurations[plans.Config3D]
	if !ok {
		return nil, fmt.Errorf("transfer: plans of %s have no %s configuration", p.Dataset, plans.Config3D)
	}
	if spacing != ([3]float64{}) {
		for a := range 3 {
			c.MedianShape[a] = int(float64(c.MedianShape[a])*q.TargetSpacing[a]/spacing[a] + 0.5)
		}
		q.TargetSpacing = spacing
		c.Spacing = spacing[:]
	}
	c.PatchSize = b.Patch[:]
	c.BatchSize = b.BatchSize
	c.Levels = t.Levels
	c.BaseFilters, c.MaxFilters, c.ConvPerStage = t.BaseFilters, t.MaxFilters, t.ConvsPerLevel
	c.PoolPerAxis = []int{t.Levels - 1, t.Levels - 1, t.Levels - 1}
	c.PoolKernels, c.ConvKernels, c.Filters = nil, nil, nil
	for l := range t.Levels {
		if l > 0 {
			c.PoolKernels = append(c.PoolKernels, []int{2, 2, 2})
		}
		c.ConvKernels = append(c.ConvKernels, []int{3, 3, 3})
		c.Filters = append(c.Filters, min(t.BaseFilters<<l, t.MaxFilters))
	}
	c.EstimatedBytes = int64(plans.Elements(c.PatchSize, c.PoolKernels, t.BaseFilters, t.MaxFilters, len(q.Normalization), len(q.Labels), t.ConvsPerLevel) *
		plans.BytesPerElement(q.Precision) * float64(c.BatchSize))
	delete(q.Configurations, plans.Config2D)
	q.Note = fmt.Sprintf("transfer: 3d_fullres rewritten to the shared topology %+v, patch %v, batch %d", t, b.Patch, b.BatchSize)
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("transfer: compatible plan of %s: %w", p.Dataset, err)
	}
	return q, nil
}

// planSet fingerprints the given cases of ds (cached in dir), makes the plan and rewrites it
// with Compatible; it saves both plans in dir.
func planSet(dir string, ds *msd.Dataset, ids []string, t Topology, b Budget, spacing [3]float64, cfg *Config) (orig, p *plans.Plans, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	fpPath := filepath.Join(dir, ds.Name+"_fingerprint.json")
	fp, err := fingerprint.Load(fpPath)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		in := fingerprint.FromDataset(ds)
		cases, err := ds.Subset(ids)
		if err != nil {
			return nil, nil, err
		}
		in.Cases = nil
		for _, c := range cases {
			in.Cases = append(in.Cases, fingerprint.Case{ID: c.ID, Image: c.Image, Label: c.Label})
		}
		fp, err = fingerprint.Compute(in, fingerprint.Options{})
		if err != nil {
			return nil, nil, err
		}
		if err := fp.Save(fpPath); err != nil {
			return nil, nil, err
		}
	}
	orig, err = plans.Make(fp, plans.Options{})
	if err != nil {
		return nil, nil, err
	}
	p, err = Compatible(orig, t, b, spacing)
	if err != nil {
		return nil, nil, err
	}
	if err := orig.Save(filepath.Join(dir, ds.Name+"_plans_nnunet.json")); err != nil {
		return nil, nil, err
	}
	if err := p.Save(filepath.Join(dir, ds.Name+"_plans.json")); err != nil {
		return nil, nil, err
	}
	return orig, p, nil
}

// preprocessCases builds (or reuses) the cache of the given cases under work and loads them.
func preprocessCases(work string, ds *msd.Dataset, p *plans.Plans, ids []string, cfg *Config) (map[string]*preprocess.Case, error) {
	cases, err := ds.Subset(ids)
	if err != nil {
		return nil, err
	}
	var in []fingerprint.Case
	for _, c := range cases {
		in = append(in, fingerprint.Case{ID: c.ID, Image: c.Image, Label: c.Label})
	}
	cache, _, err := preprocess.Build(preprocess.Dir(work, p), p, in, preprocess.Options{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*preprocess.Case, len(ids))
	for _, id := range ids {
		c, err := cache.Load(id)
		if err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, nil
}

// saveJSON writes v as indented JSON, atomically.
func saveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
