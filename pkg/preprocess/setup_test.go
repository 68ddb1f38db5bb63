package preprocess

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
)

func TestSetupReusesEditedPlan(t *testing.T) {
	root := t.TempDir()
	set := filepath.Join(root, "SynthSet")
	cases := writeCases(t, set, 3)
	var training []map[string]string
	for _, c := range cases {
		img, _ := filepath.Rel(set, c.Image)
		lbl, _ := filepath.Rel(set, c.Label)
		training = append(training, map[string]string{"image": "./" + img, "label": "./" + lbl})
	}
	js, _ := json.Marshal(map[string]any{"name": "SynthSet", "modality": map[string]string{"0": "MRI"},
		"labels": map[string]string{"0": "background", "1": "a", "2": "b"}, "numTraining": 3, "training": training})
	os.WriteFile(filepath.Join(set, "dataset.json"), js, 0o644)
	ds, err := msd.OpenDir(set)
	if err != nil {
		t.Fatal(err)
	}
	p, cache, err := Setup(root, ds, SetupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cache.Manifest.Cases) != 3 {
		t.Fatalf("cache has %d cases", len(cache.Manifest.Cases))
	}
	planPath := filepath.Join(TaskDir(root, p.Dataset), "plans.json")
	b, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	// A person edits the batch size: the plan is reused, the cache stays.
	at := strings.Index(string(b), `"3d_fullres"`)
	edited := string(b[:at]) + strings.Replace(string(b[at:]), `"batch_size": `+itoa(p.Configurations[plans.Config3D].BatchSize), `"batch_size": 3`, 1)
	os.WriteFile(planPath, []byte(edited), 0o644)
	q, cache2, err := Setup(root, ds, SetupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Configurations[plans.Config3D].BatchSize != 3 || cache2.Dir != cache.Dir {
		t.Errorf("edited plan not used: batch %d, cache %s vs %s", q.Configurations[plans.Config3D].BatchSize, cache2.Dir, cache.Dir)
	}
	// Editing the spacing moves the cache.
	edited = strings.Replace(edited, `"target_spacing": [`, `"target_spacing": [1.2, 1.2, 1.6], "x": [`, 1)
	os.WriteFile(planPath, []byte(edited), 0o644)
	if _, _, err := Setup(root, ds, SetupOptions{}); err == nil || !strings.Contains(err.Error(), "plans.json") {
		t.Errorf("broken plan edit: %v", err)
	}
	q.TargetSpacing = [3]float64{1.2, 1.2, 1.6}
	q.Save(planPath)
	_, cache3, err := Setup(root, ds, SetupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cache3.Dir == cache.Dir {
		t.Error("spacing edit kept the old cache folder")
	}
	c, err := cache3.Load(cache3.Manifest.Cases[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Image.Spacing[2] - 1.6; d > 0.2 || d < -0.2 {
		t.Errorf("cached spacing %v after the edit", c.Image.Spacing)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
