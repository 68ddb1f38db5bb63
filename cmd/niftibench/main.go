// Command niftibench compares pkg/nifti's reading speed with nibabel's in the
// same run: it reads every image and label of an MSD task (default Task04
// Hippocampus, all .nii.gz) into float32 with Go (nifti.Read + Float32) and
// with nibabel (nib.load(f, mmap=False).get_fdata(dtype=np.float32)) in a
// spawned python3, then writes a 320x320x130 float32 volume as .nii and
// .nii.gz to a temporary directory and measures the read throughput of both.
// Each figure is the best of -reps timed passes after one warm-up pass; the
// Python process times only the reading. Checksums (sum of all values) of
// both readers are compared.
//
// Usage:
//
//	go run ./cmd/niftibench [-data ../shared/data/Task04_Hippocampus] [-reps 3]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/msdkit/msdkit/pkg/nifti"
)

const pyScript = `
import json, sys, time
import numpy as np
import nibabel as nib
files = [l.strip() for l in open(sys.argv[1]) if l.strip()]
reps = int(sys.argv[2])
def once():
    t, c = time.perf_counter(), time.process_time()
    for f in files:
        nib.load(f, mmap=False).get_fdata(dtype=np.float32)
    return time.perf_counter() - t, time.process_time() - c
once()  # warm-up
runs = [once() for _ in range(reps)]
best = min(r[0] for r in runs)
cpu = min(r[1] for r in runs)
total = 0.0
nvox = 0
for f in files:
    a = nib.load(f, mmap=False).get_fdata(dtype=np.float32)
    total += float(a.sum(dtype=np.float64))
    nvox += a.size
print(json.dumps({"seconds": best, "cpu": cpu, "sum": total, "voxels": nvox, "version": nib.__version__}))
`

type pyResult struct {
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu"`
	Sum     float64 `json:"sum"`
	Voxels  int     `json:"voxels"`
	Version string  `json:"version"`
}

func main() {
	data := flag.String("data", defaultData(), "MSD task folder with imagesTr/ and labelsTr/")
	reps := flag.Int("reps", 3, "timed passes (best is reported)")
	python := flag.String("python", "/usr/bin/python3", "python with nibabel")
	big := flag.String("big", "320x320x130", "size of the synthetic float32 volume")
	keep := flag.String("dir", "", "write the synthetic volumes here and keep them (default: a removed temp dir)")
	flag.Parse()
	if err := run(*data, *reps, *python, *big, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "niftibench:", err)
		os.Exit(1)
	}
}

func defaultData() string {
	if d := os.Getenv("MSD_DATA"); d != "" {
		return filepath.Join(d, "Task04_Hippocampus")
	}
	return filepath.Join("..", "shared", "data", "Task04_Hippocampus")
}

type row struct {
	name           string
	files          int
	mb             float64 // decompressed float32 megabytes produced
	goSec, pySec   float64 // wall-clock
	goCPU, pyCPU   float64 // process CPU time
	goSum, pySum   float64
	goVox, pyVoxel int
}

func run(data string, reps int, python, big, dir string) error {
	var files []string
	for _, sub := range []string{"imagesTr", "labelsTr"} {
		m, _ := filepath.Glob(filepath.Join(data, sub, "*.nii.gz"))
		for _, f := range m {
			if !strings.HasPrefix(filepath.Base(f), "._") {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	var rows []row
	if len(files) == 0 {
		fmt.Fprintf(os.Stderr, "no .nii.gz files under %s/{imagesTr,labelsTr}; skipping the dataset benchmark\n", data)
	} else {
		fmt.Fprintf(os.Stderr, "reading %d files of %s ...\n", len(files), data)
		r, err := compare(fmt.Sprintf("%s images+labels .nii.gz", filepath.Base(data)), files, reps, python)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}

	var nx, ny, nz int
	if _, err := fmt.Sscanf(big, "%dx%dx%d", &nx, &ny, &nz); err != nil || nx < 1 || ny < 1 || nz < 1 {
		return fmt.Errorf("-big %q: want NXxNYxNZ", big)
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "niftibench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	img, err := nifti.New([]int{nx, ny, nz}, []float64{0.7, 0.7, 1.25}, nifti.Affine{}, phantom(nx, ny, nz))
	if err != nil {
		return err
	}
	for _, ext := range []string{".nii", ".nii.gz"} {
		p := filepath.Join(dir, "big"+ext)
		t := time.Now()
		if err := nifti.Write(p, img); err != nil {
			return err
		}
		st, _ := os.Stat(p)
		fmt.Fprintf(os.Stderr, "wrote %s (%.1f MB on disk) in %.2fs\n", p, float64(st.Size())/1e6, time.Since(t).Seconds())
		r, err := compare(fmt.Sprintf("%s float32 %s", big, ext), []string{p}, reps, python)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	fmt.Printf("\nnifti read benchmark: Go pkg/nifti (Read+Float32) vs nibabel %s get_fdata(float32), best of %d passes\n", lastVersion, reps)
	fmt.Printf("%-40s %5s %7s | %8s %8s %8s | %8s %8s %8s | %7s %7s | %s\n", "case", "files", "MB",
		"Go s", "Go MB/s", "Go cpu", "nib s", "nib MB/s", "nib cpu", "speedup", "cpu", "checksum")
	for _, r := range rows {
		ok := "match"
		if r.goVox != r.pyVoxel || math.Abs(r.goSum-r.pySum) > 1e-6*math.Max(1, math.Abs(r.pySum)) {
			ok = fmt.Sprintf("DIFFER (go %g/%d, nibabel %g/%d)", r.goSum, r.goVox, r.pySum, r.pyVoxel)
		}
		fmt.Printf("%-40s %5d %7.1f | %8.4f %8.1f %8.4f | %8.4f %8.1f %8.4f | %6.2fx %6.2fx | %s\n", r.name, r.files, r.mb,
			r.goSec, r.mb/r.goSec, r.goCPU, r.pySec, r.mb/r.pySec, r.pyCPU, r.pySec/r.goSec, r.pyCPU/r.goCPU, ok)
	}
	fmt.Println("speedup = nibabel wall time / Go wall time, cpu = the same for process CPU time (>1: Go faster).")
	fmt.Println("MB = float32 output megabytes; MB/s from wall time. Shared, loaded machine: wall times are noisy, CPU times less so.")
	return nil
}

var lastVersion string

// compare times Go and nibabel reading files into float32.
func compare(name string, files []string, reps int, python string) (row, error) {
	r := row{name: name, files: len(files)}
	once := func() (float64, int, error) {
		c0 := cpuTime()
		t := time.Now()
		vox := 0
		for _, f := range files {
			img, err := nifti.Read(f)
			if err != nil {
				return 0, 0, err
			}
			v, err := img.Float32()
			if err != nil {
				return 0, 0, err
			}
			vox += len(v)
		}
		wall := time.Since(t).Seconds()
		r.goCPU = math.Min(r.goCPU, cpuTime()-c0)
		return wall, vox, nil
	}
	r.goCPU = math.Inf(1)
	if _, _, err := once(); err != nil { // warm-up
		return r, err
	}
	r.goSec = math.Inf(1)
	for i := 0; i < reps; i++ {
		s, vox, err := once()
		if err != nil {
			return r, err
		}
		r.goSec = math.Min(r.goSec, s)
		r.goVox = vox
	}
	for _, f := range files { // untimed checksum pass
		img, err := nifti.Read(f)
		if err != nil {
			return r, err
		}
		v, _ := img.Float32()
		for _, x := range v {
			r.goSum += float64(x)
		}
	}
	r.mb = float64(r.goVox) * 4 / 1e6

	list, err := os.CreateTemp("", "niftibench-files")
	if err != nil {
		return r, err
	}
	defer os.Remove(list.Name())
	fmt.Fprintln(list, strings.Join(files, "\n"))
	list.Close()
	cmd := exec.Command(python, "-c", pyScript, list.Name(), fmt.Sprint(reps))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return r, fmt.Errorf("python/nibabel run failed: %v", err)
	}
	var pr pyResult
	if err := json.Unmarshal(out, &pr); err != nil {
		return r, fmt.Errorf("python output %q: %v", out, err)
	}
	r.pySec, r.pyCPU, r.pySum, r.pyVoxel = pr.Seconds, pr.CPU, pr.Sum, pr.Voxels
	lastVersion = pr.Version
	fmt.Fprintf(os.Stderr, "  %s: Go %.4fs, nibabel %.4fs\n", name, r.goSec, r.pySec)
	return r, nil
}

// phantom is an MRI-like float32 volume: integer intensities of a smooth
// pattern with an ellipsoid and a little noise (so gzip compresses it the
// way it compresses real scans, not to nothing).
func phantom(nx, ny, nz int) []float32 {
	v := make([]float32, nx*ny*nz)
	seed := uint32(12345)
	i := 0
	for z := 0; z < nz; z++ {
		for y := 0; y < ny; y++ {
			for x := 0; x < nx; x++ {
				dx, dy, dz := float64(x-nx/2)/float64(nx/3), float64(y-ny/2)/float64(ny/3), float64(z-nz/2)/float64(nz/3)
				val := 0.0
				if dx*dx+dy*dy+dz*dz < 1 {
					val = 400 + 200*math.Sin(float64(x)/9)*math.Cos(float64(y)/11) + 100*float64(z)/float64(nz)
				}
				seed = seed*1664525 + 1013904223
				val += float64(seed>>27) - 16 // noise in [-16, 15]
				if val < 0 {
					val = 0
				}
				v[i] = float32(math.Round(val))
				i++
			}
		}
	}
	return v
}

// cpuTime is the CPU time (user+system) of this process in seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
