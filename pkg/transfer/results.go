package transfer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/msdkit/msdkit/pkg/atomicfile"

	"github.com/msdkit/msdkit/pkg/plot"
)

// Results file names in the experiment folder.
const (
	ResultsJSON = "results.json"
	ResultsCSV  = "results.csv"
)

// Point is one validation of a run: mean pseudo Dice of the test-case patches at a step.
type Point struct {
	Step int     `json:"step"`
	Dice float64 `json:"dice"`
}

// Row is one finished run.
type Row struct {
	Arm          string    `json:"arm"`
	N            int       `json:"n"`           // training cases used
	NRequested   int       `json:"n_requested"` // 0 = all of the pool
	Seed         uint64    `json:"seed"`
	Cases        []string  `json:"cases"`
	Dice         float64   `json:"dice"`     // mean foreground Dice over the test cases
	PerCase      []float64 `json:"per_case"` // per test case (mean over labels)
	Steps        int       `json:"steps"`
	TrainSeconds float64   `json:"train_seconds"`
	Seconds      float64   `json:"seconds"` // training + evaluation
	Dir          string    `json:"dir"`
	Curve        []Point   `json:"curve"`
}

// Meta records the design a results file belongs to.
type Meta struct {
	Source, Target                   string
	SourceSynthetic, TargetSynthetic bool
	Topology                         Topology
	Budget                           Budget
	SourceBudget                     *Budget `json:",omitempty"`
	FreezeSteps                      int
	SourceSpacing, TargetSpacing     [3]float64
	TestIDs                          []string
	PoolSize                         int
	Backend                          string
}

func (m Meta) compatible(o Meta) error {
	switch {
	case m.Target != o.Target || m.Source != o.Source:
		return fmt.Errorf("sets %s->%s vs %s->%s", m.Source, m.Target, o.Source, o.Target)
	case m.Topology != o.Topology:
		return fmt.Errorf("topology %+v vs %+v", m.Topology, o.Topology)
	case m.Budget != o.Budget || m.FreezeSteps != o.FreezeSteps:
		return fmt.Errorf("budget %+v vs %+v", m.Budget, o.Budget)
	case m.TargetSpacing != o.TargetSpacing:
		return fmt.Errorf("target spacing %v vs %v", m.TargetSpacing, o.TargetSpacing)
	case !slices.Equal(m.TestIDs, o.TestIDs):
		return fmt.Errorf("test cases %v vs %v", m.TestIDs, o.TestIDs)
	}
	return nil
}

// Results is the experiment's table.
type Results struct {
	Meta Meta  `json:"meta"`
	Rows []Row `json:"rows"`
}

// LoadResults reads dir/results.json.
func LoadResults(dir string) (*Results, error) {
	path := filepath.Join(dir, ResultsJSON)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("transfer: %s: %w", path, err)
	}
	for i, row := range r.Rows {
		if row.Arm == "" || row.N < 1 {
			return nil, fmt.Errorf("transfer: %s: row %d has no arm or N", path, i)
		}
	}
	return &r, nil
}

// Save writes results.json and results.csv into dir (atomically).
func (r *Results) Save(dir string) error {
	if err := saveJSON(filepath.Join(dir, ResultsJSON), r); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("arm,n,n_requested,seed,dice,train_seconds,seconds,per_case,cases,dir\n")
	for _, row := range r.Rows {
		pc := make([]string, len(row.PerCase))
		for i, v := range row.PerCase {
			pc[i] = strconv.FormatFloat(v, 'f', 4, 64)
		}
		fmt.Fprintf(&b, "%s,%d,%d,%d,%.6f,%.1f,%.1f,%s,%s,%s\n", row.Arm, row.N, row.NRequested, row.Seed, row.Dice,
			row.TrainSeconds, row.Seconds, strings.Join(pc, ";"), strings.Join(row.Cases, ";"), row.Dir)
	}
	return atomicfile.WriteFile(filepath.Join(dir, ResultsCSV), b.Bytes())
}

// Find returns the row of (arm, requested N, seed), or nil.
func (r *Results) Find(arm string, n int, seed uint64) *Row {
	for i := range r.Rows {
		if row := &r.Rows[i]; row.Arm == arm && row.NRequested == n && row.Seed == seed {
			return row
		}
	}
	return nil
}

// Arms returns the arms present, in the canonical order.
func (r *Results) Arms() []string {
	var out []string
	for _, a := range []string{Scratch, Transfer, Frozen} {
		if slices.ContainsFunc(r.Rows, func(row Row) bool { return row.Arm == a }) {
			out = append(out, a)
		}
	}
	return out
}

// Ns returns the requested Ns present, ascending with 0 (all) last.
func (r *Results) Ns() []int {
	var out []int
	for _, row := range r.Rows {
		if !slices.Contains(out, row.NRequested) {
			out = append(out, row.NRequested)
		}
	}
	slices.SortFunc(out, func(a, b int) int {
		if a == 0 {
			a = math.MaxInt
		}
		if b == 0 {
			b = math.MaxInt
		}
		return a - b
	})
	return out
}

// Cell summarises one (arm, N) over seeds.
type Cell struct {
	Arm           string
	N, NRequested int
	Seeds         []uint64
	Dice          []float64 // per seed, in Seeds order
	Mean, SD      float64   // SD: sample standard deviation (NaN for one seed)
	Min, Max      float64
	MeanTrainSecs float64
}

// Cell returns the summary of (arm, requested N); Seeds empty when there is no row.
func (r *Results) Cell(arm string, n int) Cell {
	c := Cell{Arm: arm, NRequested: n}
	var secs []float64
	for _, row := range r.Rows {
		if row.Arm == arm && row.NRequested == n {
			c.N = row.N
			c.Seeds = append(c.Seeds, row.Seed)
			c.Dice = append(c.Dice, row.Dice)
			secs = append(secs, row.TrainSeconds)
		}
	}
	c.Mean, c.SD = mean(c.Dice), sd(c.Dice)
	c.Min, c.Max = math.NaN(), math.NaN()
	if len(c.Dice) > 0 {
		c.Min, c.Max = slices.Min(c.Dice), slices.Max(c.Dice)
	}
	c.MeanTrainSecs = mean(secs)
	return c
}

// Markdown is the table of test Dice by N (rows) and arm (columns): mean ± sd [min, max] (seeds).
func (r *Results) Markdown() string {
	arms := r.Arms()
	var b strings.Builder
	b.WriteString("| N |")
	for _, a := range arms {
		fmt.Fprintf(&b, " %s |", a)
	}
	b.WriteString("\n|---|")
	for range arms {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, n := range r.Ns() {
		label := ""
		for _, a := range arms {
			if c := r.Cell(a, n); len(c.Seeds) > 0 {
				label = strconv.Itoa(c.N)
				if n == 0 {
					label += " (all)"
				}
			}
		}
		fmt.Fprintf(&b, "| %s |", label)
		for _, a := range arms {
			c := r.Cell(a, n)
			if len(c.Seeds) == 0 {
				b.WriteString(" - |")
				continue
			}
			fmt.Fprintf(&b, " %.3f ± %s [%.3f, %.3f] (%d) |", c.Mean, fmtSD(c.SD), c.Min, c.Max, len(c.Seeds))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func fmtSD(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// Finding compares one arm with scratch at one N over the seeds both have (paired).
type Finding struct {
	Arm           string
	N, NRequested int
	Pairs         int
	MeanDiff      float64 // mean over seeds of Dice(arm) - Dice(scratch)
	SE            float64 // standard error of MeanDiff (NaN with one pair)
	Spread        float64 // larger seed standard deviation of the two arms
	Verdict       string  // "helps", "hurts" or "no clear difference"
}

// Findings compares every non-scratch arm with scratch at every N.
func (r *Results) Findings() []Finding {
	var out []Finding
	for _, n := range r.Ns() {
		for _, a := range r.Arms() {
			if a == Scratch {
				continue
			}
			f := Finding{Arm: a, NRequested: n}
			var d, xa, xs []float64
			for _, row := range r.Rows {
				if row.Arm != a || row.NRequested != n {
					continue
				}
				if s := r.Find(Scratch, n, row.Seed); s != nil {
					d = append(d, row.Dice-s.Dice)
					xa, xs = append(xa, row.Dice), append(xs, s.Dice)
					f.N = row.N
				}
			}
			if len(d) == 0 {
				continue
			}
			f.Pairs, f.MeanDiff = len(d), mean(d)
			f.SE = sd(d) / math.Sqrt(float64(len(d)))
			f.Spread = max(sd(xa), sd(xs))
			f.Verdict = verdict(f)
			out = append(out, f)
		}
	}
	return out
}

// verdict: a difference counts when it is larger than twice its standard error and than the
// seed spread; with fewer than 2 pairs nothing can be said.
func verdict(f Finding) string {
	if f.Pairs < 2 || math.IsNaN(f.SE) || math.IsNaN(f.Spread) {
		return "undecided (fewer than 2 seeds)"
	}
	if math.Abs(f.MeanDiff) > 2*f.SE && math.Abs(f.MeanDiff) > f.Spread {
		if f.MeanDiff > 0 {
			return "helps"
		}
		return "hurts"
	}
	return "no clear difference"
}

// Conclusion states, from the findings, what the numbers support.
func (r *Results) Conclusion() string {
	fs := r.Findings()
	if len(fs) == 0 {
		return "No comparison possible yet: the results need scratch and transfer runs with the same N and seeds."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Pretraining on %s, target %s", r.Meta.Source, r.Meta.Target)
	if r.Meta.TargetSynthetic || r.Meta.SourceSynthetic {
		b.WriteString(" (SYNTHETIC phantoms: says nothing about real data)")
	}
	b.WriteString(". Paired differences of test Dice vs scratch (a difference counts when |mean| > 2 SE and > the seed SD):\n")
	count := map[string]int{}
	for _, f := range fs {
		fmt.Fprintf(&b, "- %s, N=%d: %+.3f (SE %s, seed SD %s, %d seeds): %s\n", f.Arm, f.N, f.MeanDiff, fmtSD(f.SE), fmtSD(f.Spread), f.Pairs, f.Verdict)
		count[f.Arm+" "+f.Verdict]++
	}
	for _, a := range r.Arms() {
		if a == Scratch {
			continue
		}
		var ns, nh, nt int
		var helpsAt []string
		for _, f := range fs {
			if f.Arm != a {
				continue
			}
			nt++
			switch f.Verdict {
			case "helps":
				ns++
				helpsAt = append(helpsAt, strconv.Itoa(f.N))
			case "hurts":
				nh++
			}
		}
		switch {
		case ns > 0 && nh == 0:
			fmt.Fprintf(&b, "Overall: %s beats scratch beyond the seed noise at N = %s (%d of %d N values), never worse.\n", a, strings.Join(helpsAt, ", "), ns, nt)
		case ns > 0:
			fmt.Fprintf(&b, "Overall: %s is mixed: better at N = %s, worse at %d N values.\n", a, strings.Join(helpsAt, ", "), nh)
		case nh > 0:
			fmt.Fprintf(&b, "Overall: %s is worse than scratch at %d of %d N values, never better.\n", a, nh, nt)
		default:
			fmt.Fprintf(&b, "Overall: %s vs scratch: no difference beyond the seed noise at any of the %d N values.\n", a, nt)
		}
	}
	return b.String()
}

// DiceVsNFigure plots the mean test Dice against N per arm with the min-max band over seeds.
func (r *Results) DiceVsNFigure() ([]byte, error) {
	var series []plot.Series
	for _, a := range r.Arms() {
		var x []float64
		var runs [][]float64
		seeds := r.seeds()
		runs = make([][]float64, len(seeds))
		for _, n := range r.Ns() {
			c := r.Cell(a, n)
			if len(c.Seeds) == 0 {
				continue
			}
			x = append(x, float64(c.N))
			for i, s := range seeds {
				v := math.NaN()
				if row := r.Find(a, n, s); row != nil {
					v = row.Dice
				}
				runs[i] = append(runs[i], v)
			}
		}
		s, err := plot.Aggregate(a, x, runs, plot.MinMax)
		if err != nil {
			return nil, err
		}
		series = append(series, s)
	}
	return plot.DiceVsN(series, plot.CurvesOptions{Title: fmt.Sprintf("%s -> %s: test Dice vs N", short(r.Meta.Source), short(r.Meta.Target)),
		XLabel: "labelled target cases N (band: min-max over seeds)", YLabel: "test Dice", Points: true, LogX: true})
}

// CurvesFigure plots the validation (test-patch) Dice against steps per arm at requested N
// (0: all), mean over seeds with the min-max band.
func (r *Results) CurvesFigure(n int) ([]byte, error) {
	var series []plot.Series
	nUsed := 0
	for _, a := range r.Arms() {
		var runs [][]float64
		var x []float64
		for _, row := range r.Rows {
			if row.Arm != a || row.NRequested != n || len(row.Curve) == 0 {
				continue
			}
			nUsed = row.N
			if x == nil {
				for _, p := range row.Curve {
					x = append(x, float64(p.Step))
				}
			}
			y := make([]float64, len(x))
			for i, step := range x {
				y[i] = math.NaN()
				for _, p := range row.Curve {
					if float64(p.Step) == step {
						y[i] = p.Dice
					}
				}
			}
			runs = append(runs, y)
		}
		if len(runs) == 0 {
			continue
		}
		s, err := plot.Aggregate(a, x, runs, plot.MinMax)
		if err != nil {
			return nil, err
		}
		series = append(series, s)
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("transfer: no curves for N=%s", nName(n))
	}
	return plot.Curves(series, plot.CurvesOptions{Title: fmt.Sprintf("validation Dice vs steps, N=%d", nUsed),
		XLabel: "training step (band: min-max over seeds)", YLabel: "pseudo Dice (test-case patches)", Points: true})
}

func (r *Results) seeds() []uint64 {
	var out []uint64
	for _, row := range r.Rows {
		if !slices.Contains(out, row.Seed) {
			out = append(out, row.Seed)
		}
	}
	slices.Sort(out)
	return out
}

func short(name string) string {
	if i := strings.IndexByte(name, '_'); i >= 0 && strings.HasPrefix(name, "Task") {
		return name[i+1:]
	}
	return name
}

func mean(x []float64) float64 {
	s, k := 0.0, 0
	for _, v := range x {
		if !math.IsNaN(v) {
			s += v
			k++
		}
	}
	if k == 0 {
		return math.NaN()
	}
	return s / float64(k)
}

// sd is the sample standard deviation (n-1) of the finite values; NaN below two.
func sd(x []float64) float64 {
	m := mean(x)
	s, k := 0.0, 0
	for _, v := range x {
		if !math.IsNaN(v) {
			s += (v - m) * (v - m)
			k++
		}
	}
	if k < 2 {
		return math.NaN()
	}
	return math.Sqrt(s / float64(k-1))
}
