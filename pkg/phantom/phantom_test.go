package phantom

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/volume"
)

func TestCaseStructure(t *testing.T) {
	for _, task := range msd.Tasks {
		t.Run(task.Name, func(t *testing.T) {
			s := SpecFor(task)
			img, lbl, err := Case(s, 7)
			if err != nil {
				t.Fatal(err)
			}
			if img.Channels != len(task.Modalities) || lbl.Channels != 1 || img.Shape != s.Shape {
				t.Fatalf("channels %d/%d shape %v", img.Channels, lbl.Channels, img.Shape)
			}
			// Every label present, class means ordered apart from noise in channel 0.
			n := img.NumVoxels()
			sum := make([]float64, s.NumClasses)
			cnt := make([]int, s.NumClasses)
			for i := 0; i < n; i++ {
				l := int(lbl.Data[i])
				if float32(l) != lbl.Data[i] || l < 0 || l >= s.NumClasses {
					t.Fatalf("label %v at %d", lbl.Data[i], i)
				}
				if s.CT && img.Data[i] < -500 {
					continue // air
				}
				sum[l] += float64(img.Data[i])
				cnt[l]++
			}
			for l := 0; l < s.NumClasses; l++ {
				if cnt[l] < 8 {
					t.Fatalf("label %d has %d voxels", l, cnt[l])
				}
				if l > 0 && sum[l]/float64(cnt[l])-sum[l-1]/float64(cnt[l-1]) < 30 {
					t.Errorf("label %d mean %.1f not above label %d mean %.1f", l, sum[l]/float64(cnt[l]), l-1, sum[l-1]/float64(cnt[l-1]))
				}
			}
			// Adjacent blobs: some label-1 voxel touches a label-2 voxel.
			if s.NumClasses > 2 && !touches(lbl, 1, 2) {
				t.Error("labels 1 and 2 do not touch")
			}
			// Deterministic for a seed, different for another.
			img2, _, _ := Case(s, 7)
			img3, _, _ := Case(s, 8)
			if !slices.Equal(img.Data, img2.Data) || slices.Equal(img.Data, img3.Data) {
				t.Error("seeding is not deterministic")
			}
		})
	}
}

func touches(lbl *volume.Volume, a, b float32) bool {
	X, Y, Z := lbl.Shape[0], lbl.Shape[1], lbl.Shape[2]
	for z := 0; z < Z; z++ {
		for y := 0; y < Y; y++ {
			for x := 0; x+1 < X; x++ {
				if lbl.Data[lbl.Index(x, y, z)] == a && lbl.Data[lbl.Index(x+1, y, z)] == b ||
					y+1 < Y && lbl.Data[lbl.Index(x, y, z)] == a && lbl.Data[lbl.Index(x, y+1, z)] == b ||
					lbl.Data[lbl.Index(x, y, z)] == b && lbl.Data[lbl.Index(x+1, y, z)] == a ||
					y+1 < Y && lbl.Data[lbl.Index(x, y, z)] == b && lbl.Data[lbl.Index(x, y+1, z)] == a {
					return true
				}
			}
		}
	}
	return false
}

func TestWriteSet(t *testing.T) {
	task, _ := msd.Lookup("Task05")
	dir := filepath.Join(t.TempDir(), task.Name)
	if err := WriteSet(dir, task, SpecFor(task), 3, 1); err != nil {
		t.Fatal(err)
	}
	ds, err := msd.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Cases) != 3 || len(ds.Modalities) != 2 || len(ds.Labels) != 3 {
		t.Fatalf("cases %d modalities %v labels %v", len(ds.Cases), ds.Modalities, ds.Labels)
	}
	img, err := volume.Read(ds.Cases[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	want := SpecFor(task).Spacing
	if img.Channels != 2 || math.Abs(img.Spacing[0]-want[0]) > 1e-6 || math.Abs(img.Spacing[2]-want[2]) > 1e-6 {
		t.Errorf("read back %d channels, spacing %v", img.Channels, img.Spacing)
	}
	if err := WriteSet(dir, task, SpecFor(task), 3, 1); err == nil {
		t.Error("overwrote an existing set")
	}
	if err := WriteSet(filepath.Join(t.TempDir(), "x"), task, Spec{}, 1, 1); err == nil {
		t.Error("accepted an invalid spec")
	}
}

func TestOpen(t *testing.T) {
	root := t.TempDir()
	t.Setenv(msd.EnvFast, "")
	if _, _, err := Open(root, "Task09", 2); err == nil {
		t.Fatal("missing set outside fast mode: no error")
	}
	t.Setenv(msd.EnvFast, "1")
	ds, synthetic, err := Open(root, "Task09", 2)
	if err != nil || !synthetic || len(ds.Cases) != 2 {
		t.Fatalf("fast mode: %v synthetic=%v", err, synthetic)
	}
	if _, _, err := Open(root, "Task09", 2); err != nil { // reuses the written set
		t.Fatal(err)
	}
	// A real set wins.
	task, _ := msd.Lookup("Task09")
	if err := WriteSet(filepath.Join(root, task.Name), task, SpecFor(task), 1, 3); err != nil {
		t.Fatal(err)
	}
	ds, synthetic, err = Open(root, "Task09", 2)
	if err != nil || synthetic || len(ds.Cases) != 1 {
		t.Fatalf("real set: %v synthetic=%v cases=%d", err, synthetic, len(ds.Cases))
	}
}
