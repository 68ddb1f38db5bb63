package msd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeSet writes dataset.json and empty files for the given relative paths.
func writeSet(t *testing.T, dir, datasetJSON string, files ...string) {
	t.Helper()
	for _, f := range append(files, "dataset.json") {
		p := filepath.Join(dir, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		body := []byte("x")
		if f == "dataset.json" {
			body = []byte(datasetJSON)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const twoCases = `{"name":"Hippocampus","description":"d","licence":"CC-BY-SA 4.0","relase":"1.0","tensorImageSize":"3D",
"modality":{"0":"MRI"},"labels":{"1":"Anterior","0":"background","2":"Posterior"},"numTraining":2,
"training":[{"image":"./imagesTr/h_001.nii.gz","label":"./labelsTr/h_001.nii.gz"},
{"image":"./imagesTr/._h_001.nii.gz","label":"./labelsTr/._h_001.nii.gz"},
{"image":"imagesTr/h_002.nii.gz","label":"./labelsTr/h_002.nii.gz"}],"test":["./imagesTs/h_003.nii.gz"]}`

func TestOpen(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "Task04_Hippocampus")
	writeSet(t, dir, twoCases, "imagesTr/h_001.nii.gz", "labelsTr/h_001.nii.gz", "imagesTr/h_002.nii.gz",
		"labelsTr/h_002.nii.gz", "imagesTs/h_003.nii.gz")
	ds, err := Open(root, "Task04_Hippocampus")
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.IDs(); !slices.Equal(got, []string{"h_001", "h_002"}) {
		t.Errorf("IDs %v", got)
	}
	if !slices.Equal(ds.Labels, []string{"background", "Anterior", "Posterior"}) || !slices.Equal(ds.Modalities, []string{"MRI"}) {
		t.Errorf("labels %v modalities %v", ds.Labels, ds.Modalities)
	}
	c := ds.Cases[1]
	if c.Image != filepath.Join(dir, "imagesTr", "h_002.nii.gz") || c.Label != filepath.Join(dir, "labelsTr", "h_002.nii.gz") ||
		c.NumClasses != 3 || c.Channels != 1 {
		t.Errorf("case %+v", c)
	}
	if ds.Task.Number != 4 || ds.Task.MD5 == "" || ds.Licence != "CC-BY-SA 4.0" || ds.Release != "1.0" || ds.NumTraining != 2 {
		t.Errorf("task %+v licence %q release %q", ds.Task, ds.Licence, ds.Release)
	}
	if len(ds.Test) != 1 {
		t.Errorf("test %v", ds.Test)
	}
	if sub, err := ds.Subset([]string{"h_002", "h_001"}); err != nil || sub[0].ID != "h_002" || sub[1] != ds.Cases[0] {
		t.Errorf("Subset %v %v", sub, err)
	}
	if _, err := ds.Case("h_404"); err == nil || !strings.Contains(err.Error(), "h_404") {
		t.Errorf("unknown case: %v", err)
	}
	sets, err := FindSets(root)
	if err != nil || !slices.Equal(sets, []string{"Task04_Hippocampus"}) {
		t.Errorf("FindSets %v %v", sets, err)
	}
}

func TestOpenErrors(t *testing.T) {
	files := []string{"imagesTr/h_001.nii.gz", "labelsTr/h_001.nii.gz", "imagesTr/h_002.nii.gz", "labelsTr/h_002.nii.gz", "imagesTs/h_003.nii.gz"}
	tests := []struct {
		name, json string
		files      []string
		want       string
	}{
		{"no dataset.json", "", nil, "no dataset.json"},
		{"invalid json", `{"name":`, files, "invalid JSON"},
		{"missing label", twoCases, files[:3], "labelsTr/h_002.nii.gz"},
		{"missing image", twoCases, append([]string{files[0]}, files[1:2]...), "imagesTr/h_002.nii.gz"},
		{"label keys", `{"modality":{"0":"CT"},"labels":{"0":"bg","2":"x"},"training":[]}`, nil, `"labels"`},
		{"no modality", `{"labels":{"0":"bg","1":"x"},"training":[]}`, nil, `no "modality"`},
		{"no training", `{"modality":{"0":"CT"},"labels":{"0":"bg","1":"x"}}`, nil, `no "training"`},
		{"escaping path", `{"modality":{"0":"CT"},"labels":{"0":"bg","1":"x"},"training":[{"image":"../x.nii.gz","label":"./l.nii.gz"}]}`, nil, "escapes"},
		{"duplicate id", `{"modality":{"0":"CT"},"labels":{"0":"bg","1":"x"},"training":[{"image":"./imagesTr/h_001.nii.gz","label":"./labelsTr/h_001.nii.gz"},{"image":"./imagesTr/h_001.nii.gz","label":"./labelsTr/h_002.nii.gz"}]}`, files, "same case ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "Set")
			if tc.json != "" {
				writeSet(t, dir, tc.json, tc.files...)
			}
			_, err := OpenDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error does not name the set: %v", err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, in := range []string{"Task04_Hippocampus", "task04", "Hippocampus", "4", " 04 "} {
		if tk, err := Lookup(in); err != nil || tk.Name != "Task04_Hippocampus" {
			t.Errorf("Lookup(%q) = %v, %v", in, tk.Name, err)
		}
	}
	if _, err := Lookup("Task11_X"); err == nil {
		t.Error("unknown task accepted")
	}
	if len(Tasks) != 10 {
		t.Fatalf("%d tasks", len(Tasks))
	}
	for i, tk := range Tasks {
		if tk.Number != i+1 || len(tk.MD5) != 32 || tk.Size <= 0 || tk.NumClasses() < 2 || tk.Channels() < 1 ||
			(tk.Dims == 4) != (tk.Channels() > 1) {
			t.Errorf("registry entry %+v", tk)
		}
	}
	if u := Tasks[3].URL(""); u != "https://msd-for-monai.s3-us-west-2.amazonaws.com/Task04_Hippocampus.tar" {
		t.Errorf("URL %s", u)
	}
}

func TestDataRoot(t *testing.T) {
	t.Setenv(EnvData, "/some/where")
	if got := DataRoot(); got != "/some/where" {
		t.Errorf("with MSD_DATA: %s", got)
	}
	t.Setenv(EnvData, "")
	mod := t.TempDir()
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module x\n"), 0o644)
	sub := filepath.Join(mod, "notebooks", "data")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub)
	if got, want := DataRoot(), filepath.Join(mod, "data"); got != want {
		// Resolve symlinks in temp paths (macOS /private).
		if g, _ := filepath.EvalSymlinks(filepath.Dir(got)); g != mod {
			t.Errorf("DataRoot %s, want %s", got, want)
		}
	}
}

func TestKFold(t *testing.T) {
	ids := make([]string, 23)
	for i := range ids {
		ids[i] = "case_" + string(rune('a'+i))
	}
	folds, err := KFold(ids, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i, f := range folds {
		if n := len(f.Val); n != 4 && n != 5 {
			t.Errorf("fold %d: %d val cases", i, n)
		}
		if len(f.Train)+len(f.Val) != len(ids) {
			t.Errorf("fold %d: %d+%d cases", i, len(f.Train), len(f.Val))
		}
		for _, id := range f.Val {
			seen[id]++
			if slices.Contains(f.Train, id) {
				t.Errorf("fold %d: %s in train and val", i, id)
			}
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("%s validated %d times", id, seen[id])
		}
	}
	// Same IDs in another order: same folds; another seed: other folds.
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	again, _ := KFold(rev, 5, 1)
	other, _ := KFold(ids, 5, 2)
	if !slices.EqualFunc(folds, again, foldEqual) {
		t.Error("folds depend on the input order")
	}
	if slices.EqualFunc(folds, other, foldEqual) {
		t.Error("seed has no effect")
	}
	for _, k := range []int{0, 1, 24} {
		if _, err := KFold(ids, k, 1); err == nil {
			t.Errorf("k=%d accepted", k)
		}
	}
	if _, err := KFold([]string{"a", "b", "a"}, 2, 1); err == nil {
		t.Error("duplicate IDs accepted")
	}
}

func foldEqual(a, b Fold) bool { return slices.Equal(a.Train, b.Train) && slices.Equal(a.Val, b.Val) }

func TestSplitsFile(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f", "g"}
	path := filepath.Join(t.TempDir(), "exp", "splits_final.json")
	folds, err := Splits(path, ids, 0, DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	if len(folds) != DefaultFolds {
		t.Fatalf("%d folds", len(folds))
	}
	// Reused as stored, even with another seed.
	again, err := Splits(path, ids, 5, 999)
	if err != nil || !slices.EqualFunc(folds, again, foldEqual) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := Splits(path, ids[:6], 5, 1); err == nil || !strings.Contains(err.Error(), `"g" only in the file`) {
		t.Errorf("other cases: %v", err)
	}
	if _, err := Splits(path, ids, 3, 1); err == nil || !strings.Contains(err.Error(), "holds 5 folds") {
		t.Errorf("other k: %v", err)
	}
	os.WriteFile(path, []byte(`[{"train":["a"],"val":["b"]},{"train":["a"],"val":["c"]}]`), 0o644)
	if _, err := LoadSplits(path); err == nil || !strings.Contains(err.Error(), "fold 1") {
		t.Errorf("inconsistent folds: %v", err)
	}
	os.WriteFile(path, []byte(`[{"train":`), 0o644)
	if _, err := LoadSplits(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad JSON: %v", err)
	}
}
