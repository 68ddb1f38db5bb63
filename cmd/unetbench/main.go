// Command unetbench times one training step (forward, GoMLX gradients, Adam) of msdkit's U-Nets on
// the fastcpu backend against the same network in PyTorch, interleaving the two in one run, and
// prints a table with medians, GFLOP/s and the ratio ours/PyTorch, the peak RSS of our process,
// and the achieved GFLOP/s of the native convolution kernels against the machine's peak.
//
//	go run ./cmd/unetbench                 # both nets, 5 steps each
//	go run ./cmd/unetbench -nets 3d -steps 3 -torch ""   # without PyTorch
//	unetbench -backend xla:/abs/xla_cuda_plugin.so -torch-device cuda -precision bf16   # on a GPU
//
// The backend is chosen by pkg/backend (-backend, else MSDKIT_BACKEND/GOMLX_BACKEND, else
// automatic). With -precision bf16 both sides train in bf16 mixed precision (ours: unet's
// PrecisionBF16, on XLA only; PyTorch: autocast). On a GPU the table adds PyTorch's peak allocated
// memory and the GPU memory nvidia-smi reports in use after our steps (XLA's pool included).
//
// PyTorch: Debian's python3-torch (/usr/bin/python3), torch.set_num_threads(GOMAXPROCS-sized, see
// -torch-threads). The twin network (torch_twin.py, embedded) is the same architecture: conv3
// (no bias) + InstanceNorm(affine) + LeakyReLU(0.01), stride-2 conv down, kernel-2 stride-2
// transposed conv up (ours: 1x1 conv + pixel shuffle, the same linear map), 1x1 head, CE + soft
// Dice, Adam.
package main

import (
	"bufio"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	msdbackend "github.com/msdkit/msdkit/pkg/backend"
	"github.com/msdkit/msdkit/pkg/fastcpu"
	"github.com/msdkit/msdkit/pkg/fastcpu/gemm"
	"github.com/msdkit/msdkit/pkg/unet"
)

//go:embed torch_twin.py
var torchTwin string

type netSpec struct {
	name  string
	cfg   unet.Config
	batch int
	patch []int
}

var nets = map[string]netSpec{
	"3d": {name: "3D U-Net b16 L4, batch 2, 40x56x40", cfg: unet.Config{Dims: 3, InChannels: 1, NumClasses: 3, BaseFilters: 16, MaxFilters: 320, Levels: 4},
		batch: 2, patch: []int{40, 56, 40}},
	"2d": {name: "2D U-Net b32 L4, batch 16, 64x64", cfg: unet.Config{Dims: 2, InChannels: 1, NumClasses: 3, BaseFilters: 32, MaxFilters: 512, Levels: 4},
		batch: 16, patch: []int{64, 64}},
}

func main() {
	netsFlag := flag.String("nets", "3d,2d", "comma-separated nets to run: 3d, 2d")
	steps := flag.Int("steps", 5, "timed steps per net (after one warm-up step)")
	backendCfg := flag.String("backend", "", "GoMLX backend config for our side (default: pkg/backend's choice)")
	precision := flag.String("precision", unet.PrecisionFloat32, "float32 or bf16 (mixed precision, XLA only; PyTorch autocast)")
	python := flag.String("torch", "/usr/bin/python3", "python with torch for the PyTorch twin; empty to skip")
	torchThreads := flag.Int("torch-threads", 2, "torch.set_num_threads")
	torchDevice := flag.String("torch-device", "cpu", "PyTorch device: cpu or cuda")
	profile := flag.String("stats", "", "print per-op-kind fastcpu statistics: set to any value")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}

	backend, _, err := msdbackend.NewWith(os.Stdout, *backendCfg)
	if err != nil {
		fail(err)
	}
	if *precision != unet.PrecisionFloat32 && *precision != unet.PrecisionBF16 {
		fail(fmt.Errorf("-precision %q: want %s or %s", *precision, unet.PrecisionFloat32, unet.PrecisionBF16))
	}
	prec, note := unet.PrecisionFor(*precision, backend.Name())
	if note != "" {
		fmt.Println(note)
	}
	fmt.Printf("backend %s, precision %s, GOMAXPROCS %d, gemm kernel %s, %s\n", backend.Name(), prec, runtime.GOMAXPROCS(0), gemm.Kernel(), loadavg())
	type row struct {
		spec              netSpec
		ours, torch       []float64
		oursCPU, torchCPU []float64
		flops             float64
		torchPeakMiB      string
		gpuUsedMiB        string
		conv              fastcpu.OpStats
		all               fastcpu.Stats
	}
	var rows []row
	for _, name := range strings.Split(*netsFlag, ",") {
		spec, ok := nets[strings.TrimSpace(name)]
		if !ok {
			fail(fmt.Errorf("unknown net %q (have 3d, 2d)", name))
		}
		spec.cfg.Precision = prec
		r := row{spec: spec, flops: unet.FLOPs(spec.cfg, spec.patch, spec.batch)}
		fmt.Printf("\n%s: %.1f GFLOP per training step (3x forward convolutions)\n", spec.name, r.flops/1e9)
		var tw *twin
		if *python != "" {
			tw, err = startTwin(*python, *torchThreads, *torchDevice, prec == unet.PrecisionBF16, spec)
			if err != nil {
				fmt.Printf("PyTorch twin unavailable: %v\n", err)
				tw = nil
			}
		}
		stepFn, err := goStep(backend, spec)
		if err != nil {
			fail(err)
		}
		t0 := time.Now()
		if err := stepFn(); err != nil { // warm-up: compiles
			fail(err)
		}
		fmt.Printf("ours: first step (with graph build and compile) %.2fs\n", time.Since(t0).Seconds())
		fastcpu.ResetStats()
		for i := range *steps {
			t0, c0 := time.Now(), cpuSeconds()
			if err := stepFn(); err != nil {
				fail(err)
			}
			d, dc := time.Since(t0).Seconds(), cpuSeconds()-c0
			r.ours = append(r.ours, d)
			r.oursCPU = append(r.oursCPU, dc)
			line := fmt.Sprintf("step %d: ours %.3fs (cpu %.3fs)", i, d, dc)
			if tw != nil {
				td, tc, loss, err := tw.step()
				if err != nil {
					fmt.Printf("PyTorch twin failed: %v\n", err)
					tw.close()
					tw = nil
				} else {
					r.torch = append(r.torch, td)
					r.torchCPU = append(r.torchCPU, tc)
					line += fmt.Sprintf("  pytorch %.3fs (cpu %.3fs, loss %.3f)", td, tc, loss)
				}
			}
			fmt.Println(line)
		}
		r.gpuUsedMiB = gpuMemoryUsed()
		if tw != nil {
			r.torchPeakMiB = tw.close()
		}
		r.all = fastcpu.ReadStats()
		r.conv = r.all["ConvGeneral"]
		if *profile != "" {
			kinds := make([]string, 0, len(r.all))
			for k := range r.all {
				kinds = append(kinds, k)
			}
			slices.Sort(kinds)
			for _, k := range kinds {
				s := r.all[k]
				fmt.Printf("  %-14s calls/step %6.1f  time/step %7.3fs  %6.1f GFLOP/s\n", k, float64(s.Calls)/float64(*steps),
					s.Time.Seconds()/float64(*steps), s.GFLOPS())
			}
		}
		rows = append(rows, r)
		runtime.GC()
	}

	peak, peakDesc := machinePeak()
	fmt.Printf("\nmedians of %d steps; wall = elapsed time, cpu = process CPU time (user+sys; fairer on a loaded machine)\n", *steps)
	fmt.Printf("| net | ours wall s | ours cpu s | ours GFLOP/s (wall) | PyTorch wall s | PyTorch cpu s | PyTorch GFLOP/s (wall) | ours/PyTorch wall | ours/PyTorch cpu | conv kernels GFLOP/s | conv %% of peak |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		o, oc := median(r.ours), median(r.oursCPU)
		ts, tcs, tg, ratio, ratioCPU := "n/a", "n/a", "n/a", "n/a", "n/a"
		if len(r.torch) > 0 {
			t, tc := median(r.torch), median(r.torchCPU)
			ts, tcs, tg = fmt.Sprintf("%.3f", t), fmt.Sprintf("%.3f", tc), fmt.Sprintf("%.1f", r.flops/t/1e9)
			ratio, ratioCPU = fmt.Sprintf("%.2f", o/t), fmt.Sprintf("%.2f", oc/tc)
		}
		fmt.Printf("| %s | %.3f | %.3f | %.1f | %s | %s | %s | %s | %s | %.1f | %.0f%% |\n", r.spec.name, o, oc, r.flops/o/1e9, ts, tcs, tg,
			ratio, ratioCPU, r.conv.GFLOPS(), 100*r.conv.GFLOPS()/peak)
	}
	for _, r := range rows {
		if r.torchPeakMiB != "" || r.gpuUsedMiB != "" {
			fmt.Printf("%s: GPU memory in use after our steps (nvidia-smi, XLA's pool included) %s MiB; PyTorch peak allocated %s MiB\n",
				r.spec.name, r.gpuUsedMiB, r.torchPeakMiB)
		}
	}
	fmt.Printf("\npeak RSS of this process (VmHWM): %s; machine peak %s; %s\n", vmHWM(), peakDesc, loadavg())
}

// gpuMemoryUsed is nvidia-smi's memory.used of the first GPU in MiB, or "" without one.
func gpuMemoryUsed() string {
	if _, err := exec.LookPath("nvidia-smi"); err != nil {
		return ""
	}
	out, err := exec.Command("nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// goStep builds a GoMLX trainer for spec and returns a function running one training step.
func goStep(backend backends.Backend, spec netSpec) (func() error, error) {
	ctx := context.New()
	ctx.SetParam(optimizers.ParamLearningRate, 1e-3)
	cfg := spec.cfg
	model := func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
		return []*graph.Node{unet.Build(ctx, cfg, inputs[0])}
	}
	loss := func(labels, predictions []*graph.Node) *graph.Node {
		return unet.DiceCELoss(labels[0], predictions[0], cfg.NumClasses)
	}
	trainer := train.NewTrainer(backend, ctx, model, loss, optimizers.Adam().Done(), nil, nil)
	r := rand.New(rand.NewPCG(1, 2))
	vox := 1
	for _, p := range spec.patch {
		vox *= p
	}
	x := make([]float32, spec.batch*cfg.InChannels*vox)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := make([]int32, spec.batch*vox)
	for i := range y {
		y[i] = int32(r.IntN(cfg.NumClasses))
	}
	xDims := append([]int{spec.batch, cfg.InChannels}, spec.patch...)
	yDims := append([]int{spec.batch, 1}, spec.patch...)
	return func() error {
		_, err := trainer.TrainStep(nil, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, xDims...)},
			[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, yDims...)})
		return err
	}, nil
}

type twin struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	dir string
}

func startTwin(python string, threads int, device string, bf16 bool, spec netSpec) (*twin, error) {
	dir, err := os.MkdirTemp("", "unetbench")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "torch_twin.py")
	if err := os.WriteFile(script, []byte(torchTwin), 0o644); err != nil {
		return nil, err
	}
	args := []string{script, strconv.Itoa(spec.cfg.Dims), strconv.Itoa(spec.cfg.InChannels), strconv.Itoa(spec.cfg.NumClasses),
		strconv.Itoa(spec.cfg.BaseFilters), strconv.Itoa(spec.cfg.Levels), strconv.Itoa(spec.batch)}
	for _, p := range spec.patch {
		args = append(args, strconv.Itoa(p))
	}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("TORCH_THREADS=%d", threads), fmt.Sprintf("OMP_NUM_THREADS=%d", threads),
		"TORCH_DEVICE="+device)
	if bf16 {
		cmd.Env = append(cmd.Env, "TORCH_BF16=1")
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &twin{cmd: cmd, in: in, out: bufio.NewScanner(out), dir: dir}
	if !t.out.Scan() || t.out.Text() != "ready" {
		t.close()
		return nil, fmt.Errorf("PyTorch twin did not start (%s)", t.out.Text())
	}
	return t, nil
}

func (t *twin) step() (secs, cpu, loss float64, err error) {
	if _, err := io.WriteString(t.in, "step\n"); err != nil {
		return 0, 0, 0, err
	}
	if !t.out.Scan() {
		return 0, 0, 0, fmt.Errorf("no answer from PyTorch twin: %v", t.out.Err())
	}
	f := strings.Fields(t.out.Text())
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("bad answer %q", t.out.Text())
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return 0, 0, 0, err
		}
	}
	return v[0], v[1], v[2], nil
}

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// close stops the twin and returns its peak GPU memory in MiB ("" on a CPU).
func (t *twin) close() (peakMiB string) {
	_, _ = io.WriteString(t.in, "quit\n")
	_ = t.in.Close()
	for t.out.Scan() {
		if v, ok := strings.CutPrefix(t.out.Text(), "peak_mib "); ok {
			peakMiB = v
		}
	}
	_ = t.cmd.Wait()
	_ = os.RemoveAll(t.dir)
	return peakMiB
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// machinePeak is cores x 2 FMA units x SIMD lanes x 2 flops x clock (from /proc/cpuinfo).
func machinePeak() (float64, string) {
	mhz := 0.0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "cpu MHz") {
				if i := strings.Index(line, ":"); i >= 0 {
					mhz, _ = strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
					break
				}
			}
		}
	}
	if mhz == 0 {
		mhz = 2000
	}
	lanes := map[string]float64{"avx512": 16, "avx2": 8}[gemm.Kernel()]
	if lanes == 0 {
		lanes = 1
	}
	cores := float64(runtime.GOMAXPROCS(0))
	peak := cores * 2 * lanes * 2 * mhz / 1e3
	return peak, fmt.Sprintf("%.0f GFLOP/s (%d cores x 2 FMA x %.0f lanes x 2 x %.0f MHz)", peak, int(cores), lanes, mhz)
}

func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return fmt.Sprintf("%.2f GiB", kb/1024/1024)
		}
	}
	return "n/a"
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return "loadavg " + strings.Join(strings.Fields(string(b))[:3], " ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "unetbench:", err)
	os.Exit(1)
}
