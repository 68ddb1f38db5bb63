package preprocess

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/volume"
)

// benchCase returns a real Hippocampus case and its plan, or skips.
func benchCase(b *testing.B) (*plans.Plans, fingerprint.Case) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "Task04_Hippocampus")
	if _, err := os.Stat(dir); err != nil {
		b.Skip("no real data")
	}
	in, err := fingerprint.InputFromFolder(dir)
	if err != nil {
		b.Fatal(err)
	}
	in.Cases = in.Cases[:10]
	fp, err := fingerprint.Compute(in, fingerprint.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := plans.Make(fp, plans.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return p, in.Cases[0]
}

func BenchmarkStages(b *testing.B) {
	p, c := benchCase(b)
	img, _ := volume.Read(c.Image)
	lbl, _ := volume.Read(c.Label)
	b.Run("read", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			volume.Read(c.Image)
			volume.Read(c.Label)
		}
	})
	b.Run("prepare", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			volume.Prepare(img, lbl, p.PreprocessSteps())
		}
	})
	pi, pl, rec, _ := volume.Prepare(img, lbl, p.PreprocessSteps())
	b.Run("locations", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			SampleLocations(pl, c.ID)
		}
	})
	pc := &Case{ID: c.ID, Image: pi, Label: pl, Record: rec, Locations: SampleLocations(pl, c.ID)}
	b.Run("encode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			encode(pc, "h", nil)
		}
	})
	path := filepath.Join(b.TempDir(), "x.case")
	WriteCase(path, pc, "h")
	b.Run("readcase", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ReadCase(path, "")
		}
	})
	b.Run("resample-0.7mm", func(b *testing.B) {
		shape := volume.ShapeForSpacing(pi.Shape, pi.Spacing, [3]float64{0.7, 0.7, 0.7})
		for i := 0; i < b.N; i++ {
			pi.Resample(shape, [3]volume.Interp{})
		}
	})
	b.Run("resamplelabels-0.7mm", func(b *testing.B) {
		shape := volume.ShapeForSpacing(pi.Shape, pi.Spacing, [3]float64{0.7, 0.7, 0.7})
		for i := 0; i < b.N; i++ {
			pl.ResampleLabels(shape, [3]volume.Interp{})
		}
	})
}
