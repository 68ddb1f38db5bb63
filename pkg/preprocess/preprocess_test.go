package preprocess

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/volume"
)

// writeCases writes n synthetic LPS cases with two labels in a zero border.
func writeCases(t *testing.T, dir string, n int) []fingerprint.Case {
	var cases []fingerprint.Case
	for k := 0; k < n; k++ {
		shape := [3]int{20 + k, 18, 12}
		sp := [3]float64{0.8, 0.8, 1.6}
		img, lbl := volume.New(shape, 1, sp), volume.New(shape, 1, sp)
		for _, v := range []*volume.Volume{img, lbl} {
			v.Affine[0][0], v.Affine[1][1] = -sp[0], -sp[1]
		}
		for z := 1; z < shape[2]-1; z++ {
			for y := 2; y < shape[1]-2; y++ {
				for x := 2; x < shape[0]-2; x++ {
					i := img.Index(x, y, z)
					img.Data[i] = float32(50 + x + 2*y + k)
					if x >= 6 && x < 14 && y >= 5 && y < 12 && z >= 3 && z < 9 {
						lbl.Data[i] = 1
						if x >= 10 {
							lbl.Data[i] = 2
						}
					}
				}
			}
		}
		c := fingerprint.Case{ID: "case" + string(rune('a'+k)), Image: filepath.Join(dir, "img", string(rune('a'+k))+".nii.gz"), Label: filepath.Join(dir, "lbl", string(rune('a'+k))+".nii.gz")}
		os.MkdirAll(filepath.Dir(c.Image), 0o755)
		os.MkdirAll(filepath.Dir(c.Label), 0o755)
		if err := volume.Write(c.Image, img, volume.Float32); err != nil {
			t.Fatal(err)
		}
		if err := volume.Write(c.Label, lbl, volume.Uint8); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	return cases
}

func TestBuildLoadInvalidate(t *testing.T) {
	root := t.TempDir()
	cases := writeCases(t, root, 3)
	fp, err := fingerprint.Compute(fingerprint.Input{Name: "Synth", Modalities: []string{"MRI"}, Cases: cases}, fingerprint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plans.Make(fp, plans.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := Dir(root, p)
	var progress strings.Builder
	cache, st, err := Build(dir, p, cases, Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if st.Built != 3 || !strings.Contains(progress.String(), "3/3 cases") {
		t.Errorf("first build %+v, progress %q", st, progress.String())
	}
	if _, st, _ = Build(dir, p, cases, Options{}); st.UpToDate != 3 {
		t.Errorf("second build %+v, want all up to date", st)
	}
	// A changed source rebuilds that case only.
	later := time.Now().Add(time.Hour)
	os.Chtimes(cases[1].Label, later, later)
	if _, st, _ = Build(dir, p, cases, Options{}); st.Built != 1 {
		t.Errorf("after touching a label: %+v, want 1 rebuilt", st)
	}
	for _, src := range cases {
		c, err := cache.Load(src.ID)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := Process(p, src)
		if err != nil {
			t.Fatal(err)
		}
		if c.Image.Shape != direct.Image.Shape || c.Image.Shape != c.Record.ResampledShape {
			t.Fatalf("cached shape %v, direct %v", c.Image.Shape, direct.Image.Shape)
		}
		for i := range c.Image.Data {
			if c.Image.Data[i] != direct.Image.Data[i] || c.Label.Data[i] != direct.Label.Data[i] {
				t.Fatalf("%s: cached voxel %d differs", src.ID, i)
			}
		}
		if o, _ := c.Image.Orientation(); o.Code() != "RAS" {
			t.Errorf("cached orientation %s", o.Code())
		}
		for l, locs := range c.Locations {
			if len(locs) == 0 {
				t.Errorf("class %d has no locations", l)
			}
			for _, i := range locs {
				if c.Label.Data[i] != float32(l) {
					t.Fatalf("location %d of class %d holds label %g", i, l, c.Label.Data[i])
				}
			}
		}
		if len(c.Locations) != 2 {
			t.Errorf("classes with locations: %d", len(c.Locations))
		}
		// Back to the original geometry.
		back, err := c.Record.ToOriginal(c.Label)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := volume.Read(src.Label)
		if err := volume.SameGeometry(back, orig, 1e-6); err != nil {
			t.Fatal(err)
		}
		same := 0
		for i := range orig.Data {
			if orig.Data[i] == back.Data[i] {
				same++
			}
		}
		if frac := float64(same) / float64(len(orig.Data)); frac < 0.95 {
			t.Errorf("%s: round trip agreement %.3f", src.ID, frac)
		}
	}
	// A plan change that affects preprocessing uses a new folder; the old one is removed on request.
	q := *p
	q.TargetSpacing = [3]float64{1, 1, 1}
	dir2 := Dir(root, &q)
	if dir2 == dir {
		t.Fatal("changed plan, same cache folder")
	}
	if _, err := ReadCase(filepath.Join(dir, cases[0].ID+".case"), q.PreprocessHash()); err == nil || !strings.Contains(err.Error(), "rebuild") {
		t.Errorf("old case under the new plan: %v", err)
	}
	if _, st, err := Build(dir2, &q, cases, Options{RemoveStale: true}); err != nil || st.Built != 3 {
		t.Fatalf("build for new plan: %+v %v", st, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("stale cache folder kept")
	}
	// Corruption is detected and names the file.
	path := filepath.Join(dir2, cases[0].ID+".case")
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o644)
	if _, err := ReadCase(path, ""); err == nil || !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt case: %v", err)
	}
	os.WriteFile(path, b[:100], 0o644)
	if _, err := ReadCase(path, ""); err == nil {
		t.Error("truncated case read")
	}
	// Build notices the damaged file and rebuilds it.
	if _, st, err := Build(dir2, &q, cases, Options{}); err != nil || st.Built != 1 {
		t.Errorf("build after damage: %+v %v, want 1 rebuilt", st, err)
	}
	if _, err := ReadCase(path, q.PreprocessHash()); err != nil {
		t.Errorf("rebuilt case: %v", err)
	}
	// A label the plan does not know is refused.
	bad := writeCases(t, t.TempDir(), 1)[0]
	lbl, _ := volume.Read(bad.Label)
	lbl.Data[0] = 7
	volume.Write(bad.Label, lbl, volume.Uint8)
	if _, err := Process(p, bad); err == nil || !strings.Contains(err.Error(), "label 7") {
		t.Errorf("unknown label: %v", err)
	}
}

func TestSampleLocations(t *testing.T) {
	v := volume.New([3]int{200, 200, 2}, 1, [3]float64{1, 1, 1})
	for i := range v.Data {
		switch {
		case i%2 == 0:
			v.Data[i] = 1 // 40000 voxels
		case i%101 == 1:
			v.Data[i] = 2
		}
	}
	m := SampleLocations(v, "x")
	if len(m[1]) != MaxLocationsPerClass {
		t.Errorf("class 1: %d locations, want %d", len(m[1]), MaxLocationsPerClass)
	}
	n2 := 0
	for _, x := range v.Data {
		if x == 2 {
			n2++
		}
	}
	if len(m[2]) != n2 {
		t.Errorf("class 2: %d locations, want all %d", len(m[2]), n2)
	}
	again := SampleLocations(v, "x")
	for i := range m[1] {
		if m[1][i] != again[1][i] {
			t.Fatal("sampling not reproducible")
		}
	}
}

func TestRealHippocampusCache(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "Task04_Hippocampus")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no real data")
	}
	in, err := fingerprint.InputFromFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	in.Cases = in.Cases[:6]
	fp, err := fingerprint.Compute(in, fingerprint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plans.Make(fp, plans.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cache, _, err := Build(Dir(t.TempDir(), p), p, in.Cases, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases, err := cache.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		orig, err := volume.Read(in.Cases[i].Label)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Record.ToOriginal(c.Label)
		if err != nil {
			t.Fatal(err)
		}
		// 1 mm data at a 1 mm plan: the round trip is exact.
		for j := range orig.Data {
			if back.Data[j] != orig.Data[j] {
				t.Fatalf("%s: voxel %d: %g after round trip, %g in the file", c.ID, j, back.Data[j], orig.Data[j])
			}
		}
		var mean, n float64
		for _, x := range c.Image.Data {
			mean += float64(x)
			n++
		}
		if mean/n > 1e-3 || mean/n < -1e-3 {
			t.Errorf("%s: normalised mean %g", c.ID, mean/n)
		}
		if len(c.Locations[1]) == 0 || len(c.Locations[2]) == 0 {
			t.Errorf("%s: no foreground locations", c.ID)
		}
	}
}
