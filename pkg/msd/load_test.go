package msd

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/nifti"
)

// vol describes a synthetic NIfTI file.
type vol struct {
	shape   []int
	spacing []float64
	offset  float64 // world x of voxel 0
	data    any     // nil: a pattern of the right type and size
	dtype   string  // for nil data: "uint8" (labels 0..2) or "float32"
}

func (v vol) write(t testing.TB, path string) {
	t.Helper()
	n := 1
	for _, s := range v.shape {
		n *= s
	}
	data := v.data
	if data == nil {
		switch v.dtype {
		case "uint8":
			d := make([]uint8, n)
			for i := range d {
				d[i] = uint8(i % 3)
			}
			data = d
		default:
			d := make([]float32, n)
			for i := range d {
				d[i] = float32(i) * 0.5
			}
			data = d
		}
	}
	sp := v.spacing
	if sp == nil {
		sp = []float64{1, 1, 1}
	}
	var a nifti.Affine
	for i := range 3 {
		a[i][i] = sp[i]
	}
	a[0][3], a[3][3] = v.offset, 1
	img, err := nifti.New(v.shape, sp, a, data)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := nifti.Write(path, img); err != nil {
		t.Fatal(err)
	}
}

var shape3 = []int{4, 5, 3}

func TestLoadCase(t *testing.T) {
	f32 := func(vals ...float32) []float32 {
		d := make([]float32, 60)
		for i := range d {
			d[i] = vals[i%len(vals)]
		}
		return d
	}
	tests := []struct {
		name       string
		img, lbl   vol
		channels   int
		want       string // error substring; "" for success
		wantLabels string // also required in the error: the label file is named
	}{
		{name: "ok", img: vol{shape: shape3}, lbl: vol{shape: shape3, dtype: "uint8"}, channels: 1},
		{name: "uint8 image", img: vol{shape: shape3, dtype: "uint8"}, lbl: vol{shape: shape3, dtype: "uint8"}, channels: 1},
		{name: "float labels exact", img: vol{shape: shape3}, lbl: vol{shape: shape3, data: f32(0, 1, 2)}, channels: 1},
		{name: "4D image", img: vol{shape: []int{4, 5, 3, 2}, spacing: []float64{1, 1, 1, 1}}, lbl: vol{shape: shape3, dtype: "uint8"}, channels: 2},
		{name: "float labels fractional", img: vol{shape: shape3}, lbl: vol{shape: shape3, data: f32(0, 1.5)}, channels: 1, want: "not a label"},
		{name: "label out of range", img: vol{shape: shape3}, lbl: vol{shape: shape3, data: f32(0, 3)}, channels: 1, want: "outside the labels 0..2"},
		{name: "negative label", img: vol{shape: shape3}, lbl: vol{shape: shape3, data: f32(0, -1)}, channels: 1, want: "not a label"},
		{name: "shape", img: vol{shape: shape3}, lbl: vol{shape: []int{4, 5, 4}, dtype: "uint8"}, channels: 1, want: "shape [4 5 3] vs [4 5 4]"},
		{name: "spacing", img: vol{shape: shape3}, lbl: vol{shape: shape3, spacing: []float64{1, 1, 1.5}, dtype: "uint8"}, channels: 1, want: "spacing"},
		{name: "affine", img: vol{shape: shape3}, lbl: vol{shape: shape3, offset: 3, dtype: "uint8"}, channels: 1, want: "affine[0][3] 0 vs 3"},
		{name: "channels", img: vol{shape: shape3}, lbl: vol{shape: shape3, dtype: "uint8"}, channels: 2, want: "declares 2 modalities"},
		{name: "label channels", img: vol{shape: shape3}, lbl: vol{shape: []int{4, 5, 3, 2}, spacing: []float64{1, 1, 1, 1}, dtype: "uint8"}, channels: 1, want: "2 channels, want 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := Case{ID: "c", Image: filepath.Join(dir, "img.nii.gz"), Label: filepath.Join(dir, "lbl.nii.gz"), NumClasses: 3, Channels: tc.channels}
			tc.img.write(t, c.Image)
			tc.lbl.write(t, c.Label)
			img, lbl, err := LoadCase(c)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if img.Channels != tc.channels || lbl.Channels != 1 || img.Shape != [3]int{4, 5, 3} {
					t.Errorf("loaded %d channels %v, label %d channels", img.Channels, img.Shape, lbl.Channels)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), c.Label) && !strings.Contains(err.Error(), c.Image) {
				t.Errorf("error names no file: %v", err)
			}
			if tc.want == "shape [4 5 3] vs [4 5 4]" && !(strings.Contains(err.Error(), c.Label) && strings.Contains(err.Error(), c.Image)) {
				t.Errorf("geometry error must name both files: %v", err)
			}
		})
	}
	t.Run("missing and corrupt files", func(t *testing.T) {
		dir := t.TempDir()
		c := Case{ID: "c", Image: filepath.Join(dir, "img.nii.gz"), Label: filepath.Join(dir, "lbl.nii.gz"), NumClasses: 3}
		if _, _, err := LoadCase(c); err == nil || !strings.Contains(err.Error(), c.Image) {
			t.Errorf("missing image: %v", err)
		}
		vol{shape: shape3}.write(t, c.Image)
		os.WriteFile(c.Label, []byte("\x1f\x8bnot really gzip"), 0o644)
		if _, _, err := LoadCase(c); err == nil || !strings.Contains(err.Error(), c.Label) {
			t.Errorf("corrupt label: %v", err)
		}
	})
}

// syntheticSet writes an MSD-layout set with n cases of random-ish shapes
// and returns the tar entries of it (under name/), including AppleDouble junk.
func syntheticSet(t testing.TB, name string, n int) []tarEntry {
	t.Helper()
	src := t.TempDir()
	var training []string
	entries := []tarEntry{{name: name + "/", typeflag: tar.TypeDir}}
	add := func(rel string) {
		b, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tarEntry{name: name + "/" + rel, body: b})
	}
	for i := range n {
		id := fmt.Sprintf("syn_%03d", i)
		shape := []int{4 + i%3, 5, 3 + i%2}
		vol{shape: shape, dtype: []string{"float32", "uint8"}[i%2]}.write(t, filepath.Join(src, "imagesTr", id+".nii.gz"))
		vol{shape: shape, dtype: "uint8"}.write(t, filepath.Join(src, "labelsTr", id+".nii.gz"))
		add("imagesTr/" + id + ".nii.gz")
		add("labelsTr/" + id + ".nii.gz")
		entries = append(entries, tarEntry{name: name + "/imagesTr/._" + id + ".nii.gz", body: []byte("apple")})
		training = append(training, fmt.Sprintf(`{"image":"./imagesTr/%s.nii.gz","label":"./labelsTr/%s.nii.gz"}`, id, id))
	}
	vol{shape: shape3}.write(t, filepath.Join(src, "imagesTs", "syn_999.nii.gz"))
	add("imagesTs/syn_999.nii.gz")
	ds := fmt.Sprintf(`{"name":"Syn","description":"synthetic","licence":"CC-BY-SA 4.0","tensorImageSize":"3D",
"modality":{"0":"MRI"},"labels":{"0":"background","1":"a","2":"b"},"numTraining":%d,"numTest":1,
"training":[%s],"test":["./imagesTs/syn_999.nii.gz"]}`, n, strings.Join(training, ","))
	entries = append(entries, tarEntry{name: name + "/dataset.json", body: []byte(ds)})
	return entries
}

// TestDownloadOpenLoad runs the whole chain: serve a synthetic MSD archive,
// download it (with a dropped connection), open it, load every case, split.
func TestDownloadOpenLoad(t *testing.T) {
	entries := syntheticSet(t, "Task99_Test", 7)
	data := makeTar(t, entries)
	task := testTask(data)
	srv := newServer(t, data)
	srv.cutAfter, srv.cutTimes = len(data)/3, 1
	root := t.TempDir()
	d, _ := newTestDownloader(root, srv.URL)
	if _, err := d.Fetch(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(root, task.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Cases) != 7 || len(ds.Test) != 1 || ds.Task.Name != task.Name {
		t.Fatalf("%d cases, %d test, task %q", len(ds.Cases), len(ds.Test), ds.Task.Name)
	}
	for _, c := range ds.Cases {
		img, lbl, err := LoadCase(c)
		if err != nil {
			t.Fatal(err)
		}
		if img.Shape != lbl.Shape {
			t.Errorf("%s: %v vs %v", c.ID, img.Shape, lbl.Shape)
		}
	}
	s, err := Summarize(ds, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Problems != 0 || s.MinShape != [3]int{4, 5, 3} || s.MaxShape != [3]int{6, 5, 4} || s.ImageTypes["uint8"] != 3 {
		t.Errorf("summary: %s", SummaryText([]*SetSummary{s}))
	}
	var voxels, total int64
	for _, c := range s.Cases {
		voxels += int64(c.Shape[0] * c.Shape[1] * c.Shape[2])
	}
	for _, n := range s.LabelVoxels {
		total += n
	}
	if total != voxels || s.LabelVoxels[1] == 0 {
		t.Errorf("label voxels %v, want %d in all", s.LabelVoxels, voxels)
	}
	html := SummaryHTML([]*SetSummary{s})
	if !strings.Contains(html, "<td>Task99_Test</td>") || !strings.Contains(html, "1 a: ") {
		t.Errorf("HTML: %s", html)
	}
	folds, err := Splits(filepath.Join(t.TempDir(), "splits.json"), ds.IDs(), 0, DefaultSeed)
	if err != nil || len(folds) != 5 {
		t.Fatalf("splits %v %v", folds, err)
	}
}

func TestSummaryRecordsProblems(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "Set")
	vol{shape: shape3}.write(t, filepath.Join(dir, "imagesTr", "a.nii.gz"))
	vol{shape: shape3, offset: 5, dtype: "uint8"}.write(t, filepath.Join(dir, "labelsTr", "a.nii.gz"))
	vol{shape: shape3}.write(t, filepath.Join(dir, "imagesTr", "b.nii.gz"))
	vol{shape: shape3, dtype: "uint8"}.write(t, filepath.Join(dir, "labelsTr", "b.nii.gz"))
	writeSet(t, dir, `{"modality":{"0":"CT"},"labels":{"0":"bg","1":"x"},"training":[
{"image":"./imagesTr/a.nii.gz","label":"./labelsTr/a.nii.gz"},{"image":"./imagesTr/b.nii.gz","label":"./labelsTr/b.nii.gz"}]}`)
	sums, err := SummarizeRoot(root, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// a: affine differs; b: values 0..2 but only labels 0..1 declared.
	if len(sums) != 1 || sums[0].Problems != 2 || sums[0].Task.Kind != CT {
		t.Fatalf("%+v", sums)
	}
	if txt := SummaryText(sums); !strings.Contains(txt, "affine") {
		t.Errorf("text: %s", txt)
	}
}
