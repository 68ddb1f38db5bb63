// Command preprocbench preprocesses every training case of an MSD set (read,
// reorient, crop, normalise, resample, write to a cache in a temporary
// folder) and prints the time and peak memory of each stage. When
// /usr/bin/python3 has nibabel and scipy, it runs the same steps with them
// (peer.py, a process pool of the same size) in the same run, prints both
// side by side with the ratio, and checks that both produced the same shapes,
// crop boxes and label volumes.
//
//	go run ./cmd/preprocbench -task Task04_Hippocampus
//	go run ./cmd/preprocbench -task LA2018_LeftAtrium -spacing 1,1,1
package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/preprocess"
	"github.com/msdkit/msdkit/pkg/volume"
)

//go:embed peer.py
var peerScript []byte

func main() {
	data := flag.String("data", defaultData(), "folder holding the MSD sets")
	task := flag.String("task", "Task04_Hippocampus", "set to preprocess")
	out := flag.String("out", "", "cache root (default: a temporary folder, removed at the end)")
	budget := flag.String("budget", "GPU 8 GB", "memory budget for the plan")
	spacing := flag.String("spacing", "", "override the plan's target spacing, e.g. 1,1,1 (mm, x,y,z)")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "cases processed at once (Go and peer)")
	stages := flag.Int("stages", 20, "cases timed stage by stage on one core (0: skip)")
	python := flag.String("python", "/usr/bin/python3", "python with nibabel and scipy for the peer (empty: skip)")
	save := flag.String("save", "", "also write fingerprint.json and plans.json into this folder")
	interp := flag.String("interp", "linear", "image interpolation: linear or cubic (the peer uses scipy order 1 or 3)")
	flag.Parse()
	if err := run(*data, *task, *out, *budget, *spacing, *interp, *workers, *stages, *python, *save); err != nil {
		fmt.Fprintln(os.Stderr, "preprocbench:", err)
		os.Exit(1)
	}
}

// defaultData is $MSD_DATA, else ../shared/data when it exists, else msd.DataRoot().
func defaultData() string {
	if d := os.Getenv(msd.EnvData); d != "" {
		return d
	}
	if _, err := os.Stat(filepath.Join("..", "shared", "data")); err == nil {
		return filepath.Join("..", "shared", "data")
	}
	return msd.DataRoot()
}

// peakRSS is VmHWM from /proc/self/status (bytes), else getrusage's maxrss.
func peakRSS() int64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func run(data, task, out, budget, spacing, interp string, workers, stages int, python, save string) error {
	ds, err := msd.OpenDir(filepath.Join(data, task))
	if err != nil {
		return err
	}
	in := fingerprint.FromDataset(ds)
	if out == "" {
		tmp, err := os.MkdirTemp("", "preprocbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		out = tmp
	}
	fmt.Printf("%s: %d cases, %d workers, GOMAXPROCS %d, %d CPUs (timings are noisy on a shared machine)\n", task, len(in.Cases), workers, runtime.GOMAXPROCS(0), runtime.NumCPU())

	t0 := time.Now()
	fp, err := fingerprint.Compute(in, fingerprint.Options{Workers: workers})
	if err != nil {
		return err
	}
	tFP := time.Since(t0)
	p, err := plans.Make(fp, plans.Options{Budget: budget})
	if err != nil {
		return err
	}
	if err := p.ImageInterpolation.UnmarshalText([]byte(interp)); err != nil || p.ImageInterpolation == volume.Nearest {
		return fmt.Errorf("-interp %q: want linear or cubic", interp)
	}
	if spacing != "" {
		f := strings.Split(spacing, ",")
		if len(f) != 3 {
			return fmt.Errorf("-spacing %q: want x,y,z", spacing)
		}
		for i, s := range f {
			if p.TargetSpacing[i], err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil || !(p.TargetSpacing[i] > 0) {
				return fmt.Errorf("-spacing %q: bad number %q", spacing, s)
			}
		}
	}
	if save != "" {
		if err := fp.Save(filepath.Join(save, "fingerprint.json")); err != nil {
			return err
		}
		if err := p.Save(filepath.Join(save, "plans.json")); err != nil {
			return err
		}
	}
	c3 := p.Configurations[plans.Config3D]
	fmt.Printf("plan (%s, x,y,z, %s images): spacing %v, median shape %v, 3D patch %v batch %d, 2D patch %v batch %d, hash %s\n",
		budget, p.ImageInterpolation, p.TargetSpacing, c3.MedianShape, c3.PatchSize, c3.BatchSize,
		p.Configurations[plans.Config2D].PatchSize, p.Configurations[plans.Config2D].BatchSize, p.PreprocessHash())

	dir := preprocess.Dir(out, p)
	t0 = time.Now()
	cpu0 := cpuTime()
	cache, st, err := preprocess.Build(dir, p, fingerprint.FromDataset(ds).Cases, preprocess.Options{Workers: workers, Progress: os.Stderr})
	if err != nil {
		return err
	}
	tBuild := time.Since(t0)
	cpuBuild := cpuTime() - cpu0
	rssBuild := peakRSS()
	t0 = time.Now()
	if _, st2, err := preprocess.Build(dir, p, in.Cases, preprocess.Options{Workers: workers}); err != nil || st2.UpToDate != len(in.Cases) {
		return fmt.Errorf("rebuild: %+v %v", st2, err)
	}
	tWarm := time.Since(t0)
	var cacheBytes int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			cacheBytes += fi.Size()
		}
		return nil
	})
	t0 = time.Now()
	cases, err := cache.LoadAll()
	if err != nil {
		return err
	}
	tLoad := time.Since(t0)
	rssAll := peakRSS()

	fmt.Printf("\n%-44s %10s\n", "stage (Go)", "time")
	fmt.Printf("%-44s %9.2fs\n", "fingerprint (read + reorient + crop + stats)", tFP.Seconds())
	fmt.Printf("%-44s %9.2fs  (%d built, %.1f ms/case; CPU %.2fs)\n", "preprocess + write cache (cold)", tBuild.Seconds(), st.Built, 1000*tBuild.Seconds()/float64(len(in.Cases)), cpuBuild.Seconds())
	fmt.Printf("%-44s %9.2fs\n", "rebuild check (all up to date)", tWarm.Seconds())
	fmt.Printf("%-44s %9.2fs\n", "load all cases from cache", tLoad.Seconds())
	fmt.Printf("cache %s on disk; peak RSS after preprocessing %s, after loading all cases %s\n", mib(cacheBytes), mib(rssBuild), mib(rssAll))

	if stages > 0 {
		stageTimes(p, in.Cases[:min(stages, len(in.Cases))])
	}
	if python != "" {
		if err := runPeer(python, in.Cases, p, workers, tBuild, cpuBuild, rssBuild, cases); err != nil {
			fmt.Printf("\npeer skipped: %v\n", err)
		}
	}
	return nil
}

// stageTimes times read, prepare and encode+write one case at a time.
func stageTimes(p *plans.Plans, cases []fingerprint.Case) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	tmp, err := os.MkdirTemp("", "preprocbench-stage-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	var tRead, tPrep, tWrite time.Duration
	for _, c := range cases {
		t0 := time.Now()
		img, err1 := volume.Read(c.Image)
		lbl, err2 := volume.Read(c.Label)
		if err1 != nil || err2 != nil {
			fmt.Println("stage timing:", err1, err2)
			return
		}
		t1 := time.Now()
		pi, pl, rec, err := volume.Prepare(img, lbl, p.PreprocessSteps())
		if err != nil {
			fmt.Println("stage timing:", err)
			return
		}
		locs := preprocess.SampleLocations(pl, c.ID)
		t2 := time.Now()
		if err := preprocess.WriteCase(filepath.Join(tmp, c.ID+".case"), &preprocess.Case{ID: c.ID, Image: pi, Label: pl, Record: rec, Locations: locs}, p.PreprocessHash()); err != nil {
			fmt.Println("stage timing:", err)
			return
		}
		t3 := time.Now()
		tRead += t1.Sub(t0)
		tPrep += t2.Sub(t1)
		tWrite += t3.Sub(t2)
	}
	n := float64(len(cases))
	fmt.Printf("\nper case on one core (%d cases): read %.2f ms, reorient+crop+normalise+resample+locations %.2f ms, write %.2f ms\n",
		len(cases), ms(tRead)/n, ms(tPrep)/n, ms(tWrite)/n)
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

type peerCase struct {
	ID          string         `json:"id"`
	Shape       [3]int         `json:"shape"`
	CropStart   [3]int         `json:"crop_start"`
	CropEnd     [3]int         `json:"crop_end"`
	LabelCounts map[string]int `json:"label_counts"`
	ReadS       float64        `json:"read_s"`
	PrepareS    float64        `json:"prepare_s"`
	WriteS      float64        `json:"write_s"`
	Summary     bool           `json:"summary"`
	WallS       float64        `json:"wall_s"`
	PeakSelf    int64          `json:"peak_rss_self"`
	PeakChild   int64          `json:"peak_rss_child"`
	CPUS        float64        `json:"cpu_s"`
}

func runPeer(python string, cases []fingerprint.Case, p *plans.Plans, workers int, goTime, goCPU time.Duration, goRSS int64, ours []*preprocess.Case) error {
	if err := exec.Command(python, "-c", "import nibabel, scipy").Run(); err != nil {
		return fmt.Errorf("%s cannot import nibabel and scipy", python)
	}
	tmp, err := os.MkdirTemp("", "preprocbench-peer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "peer.py")
	if err := os.WriteFile(script, peerScript, 0o644); err != nil {
		return err
	}
	list := filepath.Join(tmp, "cases.json")
	type pc struct {
		ID    string `json:"id"`
		Image string `json:"image"`
		Label string `json:"label"`
	}
	var l []pc
	for _, c := range cases {
		l = append(l, pc{c.ID, c.Image, c.Label})
	}
	js, _ := json.Marshal(l)
	if err := os.WriteFile(list, js, 0o644); err != nil {
		return err
	}
	sp := fmt.Sprintf("%g,%g,%g", p.TargetSpacing[0], p.TargetSpacing[1], p.TargetSpacing[2])
	order := "1"
	if p.ImageInterpolation == volume.Cubic {
		order = "3"
	}
	cmd := exec.Command(python, script, list, sp, filepath.Join(tmp, "out"), strconv.Itoa(workers), order)
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	outb, err := cmd.Output()
	wall := time.Since(t0)
	if err != nil {
		return fmt.Errorf("peer failed: %v", err)
	}
	byID := map[string]peerCase{}
	var sum peerCase
	var readS, prepS, writeS float64
	sc := bufio.NewScanner(bytes.NewReader(outb))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r peerCase
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.Summary {
			sum = r
			continue
		}
		byID[r.ID] = r
		readS += r.ReadS
		prepS += r.PrepareS
		writeS += r.WriteS
	}
	// Agreement of geometry and label volumes.
	shapeOK, cropOK, maxLabelDiff := 0, 0, 0.0
	for _, c := range ours {
		r, ok := byID[c.ID]
		if !ok {
			continue
		}
		if r.Shape == c.Image.Shape {
			shapeOK++
		}
		if r.CropStart == c.Record.Crop.Start && r.CropEnd == c.Record.Crop.End {
			cropOK++
		}
		counts, _ := c.Label.LabelCounts()
		for ls, n := range r.LabelCounts {
			l, _ := strconv.Atoi(ls)
			if n > 0 {
				d := float64(counts[l]-n) / float64(n)
				maxLabelDiff = max(maxLabelDiff, max(d, -d))
			}
		}
	}
	n := float64(len(cases))
	fmt.Printf("\n%-36s %12s %12s %8s\n", "Go vs peer (nibabel+scipy)", "Go", "peer", "peer/Go")
	fmt.Printf("%-36s %11.2fs %11.2fs %7.2fx\n", "preprocess all cases (wall)", goTime.Seconds(), sum.WallS, sum.WallS/goTime.Seconds())
	fmt.Printf("%-36s %11.2fs %11.2fs %7.2fx\n", "CPU time (user+sys, all workers)", goCPU.Seconds(), sum.CPUS, sum.CPUS/goCPU.Seconds())
	fmt.Printf("%-36s %12s %12s\n", "peak RSS", mib(goRSS), mib(max(sum.PeakSelf, sum.PeakChild))+"/proc")
	fmt.Printf("peer per case (in its workers): read %.2f ms, prepare %.2f ms, write %.2f ms; peer process wall incl. start %.2fs\n",
		1000*readS/n, 1000*prepS/n, 1000*writeS/n, wall.Seconds())
	fmt.Printf("agreement: shapes %d/%d, crop boxes %d/%d, largest relative label-volume difference %.4f\n",
		shapeOK, len(ours), cropOK, len(ours), maxLabelDiff)
	return nil
}
