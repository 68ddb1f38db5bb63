package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/msdkit/msdkit/pkg/atomicfile"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
	gtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gomlx/gomlx/ui/commandline"

	"github.com/msdkit/msdkit/pkg/unet"
)

// ModelScope is the context scope of the U-Net variables.
const ModelScope = "unet"

// File names inside a run directory.
const (
	ModelFile       = "model.json"
	CheckpointsDir  = "checkpoints"
	MetricsCSVFile  = "metrics.csv"
	MetricsJSONFile = "metrics.json"
)

// Record is one row of the training log.
type Record struct {
	Step     int       `json:"step"`               // global step after the update
	Loss     float64   `json:"loss"`               // batch loss of the step
	LR       float64   `json:"lr"`                 // learning rate used by the step
	Seconds  float64   `json:"seconds"`            // wall time of the run so far (this process)
	ValDice  []float64 `json:"val_dice,omitempty"` // pseudo Dice per foreground class, when validated
	MeanDice float64   `json:"mean_dice,omitempty"`
}

// Run is a training run bound to a directory.
type Run struct {
	Dir     string
	Info    ModelInfo
	Opts    Options
	Backend backends.Backend
	Ctx     *context.Context

	// Val are fixed validation batches, scored every Opts.ValEvery steps with the pseudo Dice
	// (Dice of the argmax over all validation voxels pooled, per foreground class).
	Val []*Batch
	// OnRecord, if set, is called after every logged step (e.g. to update a live plot in a notebook).
	OnRecord func(r Record, history []Record)

	History []Record

	src      BatchSource
	ds       *dataset
	ckpt     *checkpoints.Handler
	resumed  int // global step restored from a checkpoint
	frozen   bool
	start    time.Time
	valExec  *context.Exec
	lastDice float64
	// shown by the progress bar, which draws from another goroutine
	shownStep atomic.Int64
	shownDice atomic.Uint64 // float64 bits
}

// New prepares a run in dir: it writes (or checks) model.json, and restores the latest checkpoint
// (weights, optimizer state, step and batch-source state) if the directory has one. Otherwise, with
// Options.Pretrained, it initialises every model variable but the segmentation head from that run.
func New(backend backends.Backend, dir string, info ModelInfo, src BatchSource) (*Run, error) {
	opts := info.Options.Defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	info.Options = opts
	info.Model = info.Model.FromContext(context.New())
	if err := info.Model.Validate(); err != nil {
		return nil, err
	}
	if len(info.Patch) != info.Model.Dims {
		return nil, fmt.Errorf("train: patch %v does not match a %dD model", info.Patch, info.Model.Dims)
	}
	if err := info.Model.CheckPatch(info.Patch); err != nil {
		return nil, err
	}
	// The precision the backend runs (bf16 only on XLA); model.json records it.
	var note string
	info.Model, note = info.Model.ForBackend(backend)
	if note != "" && !opts.Quiet {
		fmt.Println(note)
	}
	if err := os.MkdirAll(filepath.Join(dir, CheckpointsDir), 0o755); err != nil {
		return nil, fmt.Errorf("train: creating run directory: %w", err)
	}
	r := &Run{Dir: dir, Info: info, Opts: opts, Backend: backend, src: src}
	if err := r.writeOrCheckModelInfo(); err != nil {
		return nil, err
	}

	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(opts.Seed))
	ctx.SetParam(optimizers.ParamLearningRate, opts.LearningRate)
	ctx.SetParam(optimizers.ParamOptimizer, opts.Optimizer)
	r.Ctx = ctx
	ckpt, err := checkpoints.Build(ctx).Dir(filepath.Join(dir, CheckpointsDir)).Keep(opts.KeepCheckpoints).Done()
	if err != nil {
		return nil, fmt.Errorf("train: opening checkpoints in %s: %w", dir, err)
	}
	r.ckpt = ckpt
	r.resumed = int(optimizers.GetGlobalStep(ctx))
	if r.resumed == 0 && opts.Pretrained != "" {
		if err := LoadPretrained(ctx, opts.Pretrained); err != nil {
			return nil, err
		}
	}
	r.ds = &dataset{src: src}
	if r.resumed > 0 {
		if err := r.restoreSource(); err != nil {
			return nil, err
		}
	}
	// Rows after the restored step (all rows for a new run) belong to a lost, uncheckpointed part.
	if err := r.truncateLogs(); err != nil {
		return nil, err
	}
	return r, nil
}

// ResumedStep is the global step restored from a checkpoint (0 for a new run).
func (r *Run) ResumedStep() int { return r.resumed }

func (r *Run) writeOrCheckModelInfo() error {
	path := filepath.Join(r.Dir, ModelFile)
	if data, err := os.ReadFile(path); err == nil {
		var old ModelInfo
		if err := json.Unmarshal(data, &old); err != nil {
			return fmt.Errorf("train: %s: %w", path, err)
		}
		// The variables are the same in any precision: a run may resume in another one.
		old.Model.Precision = r.Info.Model.Precision
		if !reflect.DeepEqual(old.Model, r.Info.Model) || !reflect.DeepEqual(old.Patch, r.Info.Patch) {
			return fmt.Errorf("train: %s describes another model (%+v, patch %v) than this run (%+v, patch %v): use a new directory",
				path, old.Model, old.Patch, r.Info.Model, r.Info.Patch)
		}
	}
	return writeJSON(path, r.Info)
}

// ReadModelInfo reads a run directory's model.json.
func ReadModelInfo(dir string) (*ModelInfo, error) {
	path := filepath.Join(dir, ModelFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: reading model description: %w", err)
	}
	var info ModelInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	if err := info.Model.Validate(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return &info, nil
}

// LoadModel returns a context holding the weights of the latest checkpoint of a run directory.
func LoadModel(dir string) (*ModelInfo, *context.Context, error) {
	info, err := ReadModelInfo(dir)
	if err != nil {
		return nil, nil, err
	}
	ctx := context.New()
	if _, err := checkpoints.Load(ctx).Dir(filepath.Join(dir, CheckpointsDir)).Done(); err != nil {
		return nil, nil, fmt.Errorf("train: loading the checkpoint of %s: %w", dir, err)
	}
	return info, ctx, nil
}

// Model is the model function of a run: the logits of every head of the U-Net, finest first.
func Model(ctx *context.Context, cfg unet.Config, x *graph.Node) []*graph.Node {
	return unet.BuildAll(ctx.In(ModelScope), cfg, x)
}

// LoadPretrained copies the model variables of a run (or checkpoints) directory into ctx, except
// the segmentation head (unet.HeadScope), the optimizer state and the step counters.
func LoadPretrained(ctx *context.Context, dir string) error {
	ckDir := dir
	if st, err := os.Stat(filepath.Join(dir, CheckpointsDir)); err == nil && st.IsDir() {
		ckDir = filepath.Join(dir, CheckpointsDir)
	}
	src := context.New()
	if _, err := checkpoints.Load(src).Dir(ckDir).Immediate().Done(); err != nil {
		return fmt.Errorf("train: loading pretrained weights from %s: %w", dir, err)
	}
	prefix := context.RootScope + ModelScope
	head := "/" + unet.HeadScope
	n := 0
	for v := range src.IterVariables() {
		scope := v.Scope()
		if !strings.HasPrefix(scope, prefix) || strings.Contains(scope+"/", head+"/") {
			continue
		}
		ctx.InAbsPath(scope).Checked(false).VariableWithValue(v.Name(), v.MustValue())
		n++
	}
	if n == 0 {
		return fmt.Errorf("train: no model variables under %q in the checkpoint of %s", prefix, dir)
	}
	return nil
}

// lossFn is Dice+CE over the heads (deep supervision weights when there are several).
func (r *Run) lossFn(labels, predictions []*graph.Node) *graph.Node {
	if len(predictions) == 1 {
		return unet.DiceCELoss(labels[0], predictions[0], r.Info.Model.NumClasses)
	}
	return unet.DeepSupervisionLoss(labels[0], predictions, r.Info.Model.NumClasses)
}

// modelFn is the train.ModelFn: schedule + U-Net; it (un)freezes the encoder.
func (r *Run) modelFn(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
	x := inputs[0]
	g := x.Graph()
	if ctx.IsTraining(g) {
		scheduleGraph(ctx, g, x.DType(), r.Opts)
	}
	heads := Model(ctx, r.Info.Model, x)
	encPrefix := context.RootScope + ModelScope + "/enc_"
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Scope(), encPrefix) {
			v.SetTrainable(!r.frozen)
		}
	}
	return heads
}

// Train runs (or resumes) the training up to Opts.Steps, validating, logging and checkpointing.
// It stops with an error if the loss becomes NaN/Inf or exceeds Opts.MaxLoss.
func (r *Run) Train() error { return r.TrainUntil(r.Opts.Steps) }

// TrainUntil trains up to global step target (at most Opts.Steps; the schedule still spans
// Opts.Steps) and checkpoints there, so a later TrainUntil or a new Run on the same directory
// continues exactly where it stopped.
func (r *Run) TrainUntil(target int) error {
	opts := r.Opts
	target = min(target, opts.Steps)
	r.start = time.Now()
	trainer := gtrain.NewTrainer(r.Backend, r.Ctx.Checked(false), r.modelFn, r.lossFn, newOptimizer(r.Ctx, opts), nil, nil)
	loop := gtrain.NewLoop(trainer)
	if !opts.Quiet {
		commandline.AttachProgressBar(loop,
			func() (string, string) {
				return "Learning rate", fmt.Sprintf("%.3g", r.stepLR(int(r.shownStep.Load())))
			},
			func() (string, string) {
				return "Validation mean Dice", fmt.Sprintf("%.4f", math.Float64frombits(r.shownDice.Load()))
			})
	}
	var guardErr error
	loop.OnStep("msdkit", 10, func(loop *gtrain.Loop, metrics []*tensors.Tensor) error {
		step := int(optimizers.GetGlobalStep(r.Ctx))
		loss := shapes.ConvertTo[float64](metrics[0].Value())
		if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > opts.MaxLoss {
			guardErr = fmt.Errorf("train: diverged at step %d: loss %g (limit %g); lower the learning rate (%g) or check the data",
				step, loss, opts.MaxLoss, opts.LearningRate)
			return guardErr
		}
		r.shownStep.Store(int64(step))
		rec := Record{Step: step, Loss: loss, LR: r.stepLR(step - 1), Seconds: time.Since(r.start).Seconds()}
		if (opts.ValEvery > 0 && step%opts.ValEvery == 0) || step == target {
			if err := r.validate(&rec); err != nil {
				return err
			}
		}
		r.History = append(r.History, rec)
		if err := r.appendLog(rec); err != nil {
			return err
		}
		if (opts.CheckpointEvery > 0 && step%opts.CheckpointEvery == 0) || step == target {
			if err := r.save(); err != nil {
				return err
			}
		}
		if r.OnRecord != nil {
			r.OnRecord(rec, r.History)
		}
		return nil
	})

	// Replay the batches of a non-stateful source.
	if _, ok := r.src.(Stateful); !ok && r.ds.drawn < r.resumed {
		for r.ds.drawn < r.resumed {
			if _, err := r.src.Next(); err != nil {
				return fmt.Errorf("train: replaying batch %d: %w", r.ds.drawn, err)
			}
			r.ds.drawn++
		}
	}

	step := int(optimizers.GetGlobalStep(r.Ctx))
	var err error
	if opts.FreezeEncoderSteps > 0 && step < opts.FreezeEncoderSteps {
		r.frozen = true
		_, err = loop.RunToGlobalStep(r.ds, min(opts.FreezeEncoderSteps, target))
		r.frozen = false
		trainer.ResetComputationGraphs()
	}
	if err == nil {
		_, err = loop.RunToGlobalStep(r.ds, target)
	}
	if guardErr != nil {
		return guardErr
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return r.writeSummary()
}

// stepLR is the learning rate the schedule gives to (0-based) step t.
func (r *Run) stepLR(t int) float64 {
	o := r.Opts
	switch o.Schedule {
	case "poly":
		return PolyLR(o.LearningRate, t, o.Steps, o.PolyExponent)
	case "cosine":
		return o.LearningRate * 0.5 * (1 + math.Cos(math.Pi*float64(t)/float64(o.Steps)))
	}
	return o.LearningRate
}

// Predict returns the argmax labels [B, spatial...] (int32, flat) of the current model on images.
func (r *Run) Predict(b *Batch) ([]int32, error) {
	if r.valExec == nil {
		cfg := r.Info.Model
		exec, err := context.NewExec(r.Backend, r.Ctx.Checked(false), func(ctx *context.Context, x *graph.Node) *graph.Node {
			return graph.ArgMax(Model(ctx, cfg, x)[0], 1, dtypes.Int32)
		})
		if err != nil {
			return nil, err
		}
		r.valExec = exec
	}
	x, _ := b.tensors()
	out, err := r.valExec.Exec1(x)
	if err != nil {
		return nil, fmt.Errorf("train: predicting: %w", err)
	}
	return tensors.MustCopyFlatData[int32](out), nil
}

// Validate scores the current model on r.Val: pseudo Dice per foreground class.
func (r *Run) Validate() ([]float64, error) {
	k := r.Info.Model.NumClasses
	tp, fp, fn := make([]float64, k), make([]float64, k), make([]float64, k)
	for i, b := range r.Val {
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("validation batch %d: %w", i, err)
		}
		pred, err := r.Predict(b)
		if err != nil {
			return nil, err
		}
		for j, p := range pred {
			l := int(b.Labels[j])
			if int(p) == l {
				tp[l]++
			} else {
				fp[p]++
				if l < k {
					fn[l]++
				}
			}
		}
	}
	dice := make([]float64, k-1)
	for c := 1; c < k; c++ {
		if d := 2*tp[c] + fp[c] + fn[c]; d > 0 {
			dice[c-1] = 2 * tp[c] / d
		} else {
			dice[c-1] = math.NaN()
		}
	}
	return dice, nil
}

func (r *Run) validate(rec *Record) error {
	if len(r.Val) == 0 {
		return nil
	}
	dice, err := r.Validate()
	if err != nil {
		return err
	}
	rec.ValDice = dice
	s, n := 0.0, 0
	for _, d := range dice {
		if !math.IsNaN(d) {
			s += d
			n++
		}
	}
	if n > 0 {
		rec.MeanDice = s / float64(n)
	}
	r.lastDice = rec.MeanDice
	r.shownDice.Store(math.Float64bits(rec.MeanDice))
	if r.Opts.Quiet {
		return nil
	}
	fmt.Printf("step %d: validation Dice %v (mean %.4f)\n", rec.Step, fmtFloats(dice), rec.MeanDice)
	return nil
}

func fmtFloats(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 4, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

var stepRegex = regexp.MustCompile(`-step-(\d+)$`)

func sourceStateFile(ckDir string, step int) string {
	return filepath.Join(ckDir, fmt.Sprintf("batches-step-%08d.state", step))
}

// save writes a checkpoint and the batch source state for the current step, pruning states of
// checkpoints that no longer exist.
func (r *Run) save() error {
	if err := r.ckpt.Save(); err != nil {
		return fmt.Errorf("train: saving checkpoint: %w", err)
	}
	ckDir := r.ckpt.Dir()
	step := int(optimizers.GetGlobalStep(r.Ctx))
	if st, ok := r.src.(Stateful); ok {
		data, err := st.State()
		if err != nil {
			return fmt.Errorf("train: batch source state: %w", err)
		}
		if err := atomicfile.WriteFileNoSync(sourceStateFile(ckDir, step), data); err != nil {
			return err
		}
	}
	list, err := r.ckpt.ListCheckpoints()
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, name := range list {
		if m := stepRegex.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			keep[filepath.Base(sourceStateFile(ckDir, n))] = true
		}
	}
	old, _ := filepath.Glob(filepath.Join(ckDir, "batches-step-*.state"))
	for _, f := range old {
		if !keep[filepath.Base(f)] {
			_ = os.Remove(f)
		}
	}
	return nil
}

// restoreSource puts the batch source in the state it had at the restored step.
func (r *Run) restoreSource() error {
	st, ok := r.src.(Stateful)
	if !ok {
		return nil // replayed in Train
	}
	path := sourceStateFile(r.ckpt.Dir(), r.resumed)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("train: resuming at step %d: batch source state: %w", r.resumed, err)
	}
	if err := st.SetState(data); err != nil {
		return fmt.Errorf("train: resuming at step %d: %s: %w", r.resumed, path, err)
	}
	r.ds.drawn = r.resumed
	return nil
}

// appendLog appends a record to metrics.csv (header on creation): step,loss,lr,seconds,mean_dice,
// then one dice_<class> column per foreground class (empty on steps without validation).
func (r *Run) appendLog(rec Record) error {
	path := filepath.Join(r.Dir, MetricsCSVFile)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: metrics log: %w", err)
	}
	defer f.Close()
	fg := max(r.Info.Model.NumClasses-1, len(rec.ValDice))
	if errors.Is(statErr, os.ErrNotExist) {
		head := "step,loss,lr,seconds,mean_dice"
		for k := 1; k <= fg; k++ {
			head += fmt.Sprintf(",dice_%d", k)
		}
		if _, err := f.WriteString(head + "\n"); err != nil {
			return err
		}
	}
	row := fmt.Sprintf("%d,%.6g,%.6g,%.2f,", rec.Step, rec.Loss, rec.LR, rec.Seconds)
	if rec.ValDice != nil {
		row += strconv.FormatFloat(rec.MeanDice, 'f', 6, 64)
	}
	for k := 0; k < fg; k++ {
		row += ","
		if k < len(rec.ValDice) {
			row += strconv.FormatFloat(rec.ValDice[k], 'f', 4, 64)
		}
	}
	_, err = f.WriteString(row + "\n")
	return err
}

// ReadLog reads a run directory's metrics.csv (every logged step, across resumed runs). It also
// reads logs of earlier versions, which kept the per-class Dice space-separated in one column.
func ReadLog(dir string) ([]Record, error) {
	path := filepath.Join(dir, MetricsCSVFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: training log: %w", err)
	}
	var out []Record
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if i == 0 {
			continue // header
		}
		f := strings.Split(line, ",")
		if len(f) < 5 {
			return nil, fmt.Errorf("train: %s line %d: %d fields, want at least 5", path, i+1, len(f))
		}
		var r Record
		var errs [4]error
		r.Step, errs[0] = strconv.Atoi(f[0])
		r.Loss, errs[1] = strconv.ParseFloat(f[1], 64)
		r.LR, errs[2] = strconv.ParseFloat(f[2], 64)
		r.Seconds, errs[3] = strconv.ParseFloat(f[3], 64)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("train: %s line %d: %w", path, i+1, err)
		}
		if f[4] != "" {
			if r.MeanDice, err = strconv.ParseFloat(f[4], 64); err != nil {
				return nil, fmt.Errorf("train: %s line %d: %w", path, i+1, err)
			}
			for _, v := range strings.Fields(strings.Join(f[5:], " ")) {
				d, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf("train: %s line %d: %w", path, i+1, err)
				}
				r.ValDice = append(r.ValDice, d)
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("train: %s has no records", path)
	}
	return out, nil
}

// truncateLogs drops log rows after the resumed step (they belong to the lost part of the run).
func (r *Run) truncateLogs() error {
	path := filepath.Join(r.Dir, MetricsCSVFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	kept := lines[:1]
	for _, l := range lines[1:] {
		step, err := strconv.Atoi(strings.SplitN(l, ",", 2)[0])
		if err == nil && step <= r.resumed {
			kept = append(kept, l)
		}
	}
	return atomicfile.WriteFileNoSync(path, []byte(strings.Join(kept, "\n")+"\n"))
}

// Summary is what metrics.json holds at the end of a run.
type Summary struct {
	Steps       int       `json:"steps"`
	FinalLoss   float64   `json:"final_loss"`
	ValDice     []float64 `json:"val_dice,omitempty"`
	MeanDice    float64   `json:"mean_dice"`
	Seconds     float64   `json:"seconds"` // wall time of this process
	StepsPerSec float64   `json:"steps_per_second"`
	History     []Record  `json:"history"` // records of this process
}

func (r *Run) writeSummary() error {
	s := Summary{Steps: int(optimizers.GetGlobalStep(r.Ctx)), Seconds: time.Since(r.start).Seconds(), History: r.History}
	if n := len(r.History); n > 0 {
		last := r.History[n-1]
		s.FinalLoss, s.ValDice, s.MeanDice = last.Loss, last.ValDice, last.MeanDice
		if s.Seconds > 0 {
			s.StepsPerSec = float64(n) / s.Seconds
		}
	}
	for i := range s.ValDice {
		if math.IsNaN(s.ValDice[i]) {
			s.ValDice[i] = -1
		}
	}
	for i := range s.History {
		for j, d := range s.History[i].ValDice {
			if math.IsNaN(d) {
				s.History[i].ValDice[j] = -1
			}
		}
	}
	return writeJSON(filepath.Join(r.Dir, MetricsJSONFile), s)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("train: encoding %s: %w", path, err)
	}
	return atomicfile.WriteFileNoSync(path, append(data, '\n'))
}
