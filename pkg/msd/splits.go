package msd

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/msdkit/msdkit/pkg/atomicfile"
)

// DefaultFolds is the number of cross-validation folds (as nnU-Net).
const DefaultFolds = 5

// DefaultSeed seeds the fold shuffle when none is given (nnU-Net's 12345;
// the folds differ from nnU-Net's, which come from numpy's generator).
const DefaultSeed = 12345

// Fold is one cross-validation split, in the layout of nnU-Net's
// splits_final.json.
type Fold struct {
	Train []string `json:"train"`
	Val   []string `json:"val"`
}

// KFold splits ids into k folds: the sorted IDs are shuffled with a PCG
// generator seeded by seed and cut into k contiguous validation blocks whose
// sizes differ by at most one (the first n mod k blocks get the extra case);
// each fold trains on the rest. Train and Val are sorted. The result depends
// only on the set of IDs, k and seed.
func KFold(ids []string, k int, seed uint64) ([]Fold, error) {
	n := len(ids)
	if k < 2 || k > n {
		return nil, fmt.Errorf("msd: %d folds for %d cases: need 2 <= folds <= cases", k, n)
	}
	s := slices.Clone(ids)
	slices.Sort(s)
	for i := 1; i < n; i++ {
		if s[i] == s[i-1] {
			return nil, fmt.Errorf("msd: case ID %q appears twice", s[i])
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x6d73646b6974)) // second word: "msdkit"
	r.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
	folds := make([]Fold, k)
	start := 0
	for f := range folds {
		size := n / k
		if f < n%k {
			size++
		}
		val := slices.Clone(s[start : start+size])
		train := append(slices.Clone(s[:start]), s[start+size:]...)
		slices.Sort(val)
		slices.Sort(train)
		folds[f] = Fold{Train: train, Val: val}
		start += size
	}
	return folds, nil
}

// SaveSplits writes folds as JSON to path (through a temporary file).
func SaveSplits(path string, folds []Fold) error {
	b, err := json.MarshalIndent(folds, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("msd: %w", err)
	}
	return nil
}

// LoadSplits reads folds written by SaveSplits (or nnU-Net's
// splits_final.json) and checks that every fold partitions the same cases.
func LoadSplits(path string) ([]Fold, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("msd: %w", err)
	}
	var folds []Fold
	if err := json.Unmarshal(b, &folds); err != nil {
		return nil, fmt.Errorf("msd: %s: invalid splits JSON: %w", path, err)
	}
	if len(folds) == 0 {
		return nil, fmt.Errorf("msd: %s: no folds", path)
	}
	var all []string
	for i, f := range folds {
		ids := append(slices.Clone(f.Train), f.Val...)
		slices.Sort(ids)
		if len(f.Val) == 0 {
			return nil, fmt.Errorf("msd: %s: fold %d has no validation cases", path, i)
		}
		for j := 1; j < len(ids); j++ {
			if ids[j] == ids[j-1] {
				return nil, fmt.Errorf("msd: %s: fold %d lists case %q twice", path, i, ids[j])
			}
		}
		if i == 0 {
			all = ids
		} else if !slices.Equal(all, ids) {
			return nil, fmt.Errorf("msd: %s: fold %d covers other cases than fold 0", path, i)
		}
	}
	return folds, nil
}

// Splits returns the folds stored at path when the file exists (checking
// that they cover exactly ids and number k), else makes them with KFold and
// saves them there, so that every experiment on a set uses the same folds.
// k <= 0 means DefaultFolds.
func Splits(path string, ids []string, k int, seed uint64) ([]Fold, error) {
	if k <= 0 {
		k = DefaultFolds
	}
	if _, err := os.Stat(path); err == nil {
		folds, err := LoadSplits(path)
		if err != nil {
			return nil, err
		}
		if len(folds) != k {
			return nil, fmt.Errorf("msd: %s holds %d folds, want %d (remove it to make new ones)", path, len(folds), k)
		}
		want := slices.Sorted(slices.Values(ids))
		got := append(slices.Clone(folds[0].Train), folds[0].Val...)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return nil, fmt.Errorf("msd: %s covers other cases than the set (%d vs %d cases; e.g. %s); remove it to make new ones",
				path, len(got), len(want), firstDifference(got, want))
		}
		return folds, nil
	}
	folds, err := KFold(ids, k, seed)
	if err != nil {
		return nil, err
	}
	if err := SaveSplits(path, folds); err != nil {
		return nil, err
	}
	return folds, nil
}

// firstDifference names one ID in exactly one of two sorted lists.
func firstDifference(a, b []string) string {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch strings.Compare(a[i], b[j]) {
		case 0:
			i++
			j++
		case -1:
			return fmt.Sprintf("%q only in the file", a[i])
		default:
			return fmt.Sprintf("%q only in the set", b[j])
		}
	}
	if i < len(a) {
		return fmt.Sprintf("%q only in the file", a[i])
	}
	if j < len(b) {
		return fmt.Sprintf("%q only in the set", b[j])
	}
	return "none"
}
