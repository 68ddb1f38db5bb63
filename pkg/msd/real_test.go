package msd

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// sharedData is the read-only copy of real sets next to the repository.
const sharedData = "../../../shared/data"

func realSet(t *testing.T, name string) *Dataset {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedData, name, "dataset.json")); err != nil {
		t.Skipf("%s not present under %s", name, sharedData)
	}
	ds, err := Open(sharedData, name)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestRealSummary(t *testing.T) {
	for _, name := range []string{"Task04_Hippocampus", "LA2018_LeftAtrium"} {
		t.Run(name, func(t *testing.T) {
			ds := realSet(t, name)
			max := 0
			if testing.Short() {
				max = 10
			}
			s, err := Summarize(ds, max, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", SummaryText([]*SetSummary{s}))
			if s.Problems != 0 {
				t.Errorf("%d cases with problems, first: %s", s.Problems, s.firstProblem())
			}
		})
	}
}

func TestRealSplitsReproducible(t *testing.T) {
	ds := realSet(t, "Task04_Hippocampus")
	dir := t.TempDir()
	a, err := Splits(filepath.Join(dir, "a.json"), ds.IDs(), 5, DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Splits(filepath.Join(dir, "b.json"), ds.IDs(), 5, DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(a, b, foldEqual) {
		t.Error("same seed, different folds")
	}
	for _, f := range a {
		if len(f.Val) != len(ds.Cases)/5 {
			t.Errorf("%d val cases of %d", len(f.Val), len(ds.Cases))
		}
	}
}

func TestRealLoadEveryCase(t *testing.T) {
	for _, name := range []string{"Task04_Hippocampus", "LA2018_LeftAtrium"} {
		t.Run(name, func(t *testing.T) {
			ds := realSet(t, name)
			cases := ds.Cases
			if testing.Short() {
				cases = cases[:5]
			}
			for _, c := range cases {
				img, lbl, err := LoadCase(c)
				if err != nil {
					t.Fatal(err)
				}
				if img.Channels != 1 || img.Shape != lbl.Shape {
					t.Fatalf("%s: %d channels, %v vs %v", c.ID, img.Channels, img.Shape, lbl.Shape)
				}
			}
		})
	}
}
