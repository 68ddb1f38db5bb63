package transfer

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/phantom"
	"github.com/msdkit/msdkit/pkg/plans"
	"github.com/msdkit/msdkit/pkg/train"
)

func ids(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "case_"+string(rune('a'+i)))
	}
	return out
}

func TestSplitIDs(t *testing.T) {
	all := ids(10)
	test, pool, err := SplitIDs(all, 3, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(test) != 3 || len(pool) != 7 {
		t.Fatalf("sizes %d, %d", len(test), len(pool))
	}
	for _, id := range test {
		if slices.Contains(pool, id) {
			t.Errorf("%s in both test and pool", id)
		}
	}
	// Deterministic, independent of input order.
	rev := slices.Clone(all)
	slices.Reverse(rev)
	test2, pool2, _ := SplitIDs(rev, 3, 0, 7)
	if !slices.Equal(test, test2) || !slices.Equal(pool, pool2) {
		t.Errorf("split depends on input order: %v/%v vs %v/%v", test, pool, test2, pool2)
	}
	if _, p, _ := SplitIDs(all, 3, 4, 7); len(p) != 4 {
		t.Errorf("maxPool 4 gave %d", len(p))
	}
	for _, n := range []int{0, 10, 11} {
		if _, _, err := SplitIDs(all, n, 0, 7); err == nil {
			t.Errorf("nTest %d of 10: no error", n)
		}
	}
}

func TestTrainingCases(t *testing.T) {
	pool := ids(8)
	for _, tc := range []struct {
		n, want int
	}{{1, 1}, {4, 4}, {0, 8}, {8, 8}, {20, 8}} {
		got := TrainingCases(pool, tc.n, 3)
		if len(got) != tc.want {
			t.Errorf("n=%d: %d cases", tc.n, len(got))
		}
		for _, id := range got {
			if !slices.Contains(pool, id) {
				t.Errorf("n=%d: %s not in the pool", tc.n, id)
			}
		}
		if !slices.Equal(got, TrainingCases(pool, tc.n, 3)) {
			t.Errorf("n=%d: not deterministic", tc.n)
		}
	}
	differ := false
	for s := uint64(1); s < 6; s++ {
		if !slices.Equal(TrainingCases(pool, 2, s), TrainingCases(pool, 2, s+1)) {
			differ = true
		}
	}
	if !differ {
		t.Error("seeds 1..6 all drew the same 2 cases")
	}
}

// planOf fingerprints a small generated set of task and makes its plan.
func planOf(t *testing.T, task string, spec phantom.Spec) *plans.Plans {
	t.Helper()
	tk, err := msd.Lookup(task)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), task)
	if err := phantom.WriteSet(dir, tk, spec, 2, 1); err != nil {
		t.Fatal(err)
	}
	in, err := fingerprint.InputFromFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := fingerprint.Compute(in, fingerprint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plans.Make(fp, plans.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompatible: plans of the two sets, different spacing, shapes and labels, give the same
// network but for the head after Compatible, and keep their own spacing and normalisation.
func TestCompatible(t *testing.T) {
	src := planOf(t, "Task04_Hippocampus", phantom.Spec{Shape: [3]int{20, 24, 20}, Spacing: [3]float64{1, 1, 1}, Channels: 1, NumClasses: 3})
	dst := planOf(t, "Task02_Heart", phantom.Spec{Shape: [3]int{40, 40, 16}, Spacing: [3]float64{0.625, 0.625, 0.625}, Channels: 1, NumClasses: 2})
	topo := Topology{Levels: 3, BaseFilters: 4, MaxFilters: 12, ConvsPerLevel: 2}
	a, err := Compatible(src, topo, Budget{Steps: 1, BatchSize: 2, Patch: [3]int{16, 24, 16}}, [3]float64{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compatible(dst, topo, Budget{Steps: 1, BatchSize: 3, Patch: [3]int{32, 32, 8}}, [3]float64{1.25, 1.25, 1.25})
	if err != nil {
		t.Fatal(err)
	}
	ca, pa, err := train.FromPlans(a, plans.Config3D)
	if err != nil {
		t.Fatal(err)
	}
	cb, pb, err := train.FromPlans(b, plans.Config3D)
	if err != nil {
		t.Fatal(err)
	}
	if ca.NumClasses != 3 || cb.NumClasses != 2 {
		t.Errorf("classes %d, %d", ca.NumClasses, cb.NumClasses)
	}
	ca.NumClasses = cb.NumClasses
	if !reflect.DeepEqual(ca, cb) {
		t.Errorf("networks differ beyond the head:\n%+v\n%+v", ca, cb)
	}
	if ca.Levels != 3 || ca.BaseFilters != 4 || ca.MaxFilters != 12 || ca.ConvsPerLevel != 2 {
		t.Errorf("topology not applied: %+v", ca)
	}
	if !slices.Equal(pa, []int{16, 24, 16}) || !slices.Equal(pb, []int{8, 32, 32}) {
		t.Errorf("patches (z,y,x) %v, %v", pa, pb)
	}
	if b.TargetSpacing != [3]float64{1.25, 1.25, 1.25} || a.TargetSpacing != src.TargetSpacing {
		t.Errorf("spacings %v, %v", a.TargetSpacing, b.TargetSpacing)
	}
	if got := b.Configurations[plans.Config3D].Filters; !slices.Equal(got, []int{4, 8, 12}) {
		t.Errorf("filters %v", got)
	}
	if src.TargetSpacing == dst.TargetSpacing {
		t.Errorf("test sets should differ in spacing")
	}
	// The original plans are not modified.
	if src.Configurations[plans.Config3D].Levels == 3 && src.Configurations[plans.Config3D].BaseFilters == 4 {
		t.Errorf("Compatible modified its input")
	}
	if _, err := Compatible(src, topo, Budget{Patch: [3]int{10, 24, 16}, BatchSize: 2}, [3]float64{}); err == nil {
		t.Error("patch 10 with 3 levels: no error")
	}
}

func results(rows ...Row) *Results {
	return &Results{Meta: Meta{Source: SourceTask, Target: "LA2018"}, Rows: rows}
}

func row(arm string, n int, seed uint64, dice float64) Row {
	return Row{Arm: arm, N: max(n, 10), NRequested: n, Seed: seed, Dice: dice,
		Curve: []Point{{Step: 5, Dice: dice / 2}, {Step: 10, Dice: dice}}}
}

func TestFindings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scratch  []float64
		other    []float64
		want     string
		wantDiff float64
	}{
		{"clear gain", []float64{0.50, 0.52, 0.51}, []float64{0.70, 0.73, 0.71}, "helps", 0.2033},
		{"clear loss", []float64{0.70, 0.73, 0.71}, []float64{0.50, 0.52, 0.51}, "hurts", -0.2033},
		{"noise", []float64{0.50, 0.70, 0.60}, []float64{0.55, 0.62, 0.66}, "no clear difference", 0.01},
		{"one seed", []float64{0.5}, []float64{0.9}, "undecided (fewer than 2 seeds)", 0.4},
	} {
		var rows []Row
		for i := range tc.scratch {
			rows = append(rows, row(Scratch, 4, uint64(i+1), tc.scratch[i]), row(Transfer, 4, uint64(i+1), tc.other[i]))
		}
		fs := results(rows...).Findings()
		if len(fs) != 1 {
			t.Fatalf("%s: %d findings", tc.name, len(fs))
		}
		if fs[0].Verdict != tc.want || math.Abs(fs[0].MeanDiff-tc.wantDiff) > 1e-3 {
			t.Errorf("%s: %+v, want %s %.4f", tc.name, fs[0], tc.want, tc.wantDiff)
		}
	}
}

func TestConclusionAndTable(t *testing.T) {
	r := results(
		row(Scratch, 1, 1, 0.30), row(Scratch, 1, 2, 0.32), row(Scratch, 1, 3, 0.31),
		row(Transfer, 1, 1, 0.60), row(Transfer, 1, 2, 0.62), row(Transfer, 1, 3, 0.61),
		row(Scratch, 0, 1, 0.80), row(Scratch, 0, 2, 0.70), row(Scratch, 0, 3, 0.75),
		row(Transfer, 0, 1, 0.79), row(Transfer, 0, 2, 0.72), row(Transfer, 0, 3, 0.74),
	)
	if got := r.Ns(); !slices.Equal(got, []int{1, 0}) {
		t.Errorf("Ns %v, want [1 0] (all last)", got)
	}
	c := r.Conclusion()
	for _, want := range []string{"transfer, N=10: +0.300", "helps", "no clear difference", "beats scratch beyond the seed noise at N = 10 (1 of 2"} {
		if !strings.Contains(c, want) {
			t.Errorf("conclusion lacks %q:\n%s", want, c)
		}
	}
	md := r.Markdown()
	if !strings.Contains(md, "| 10 (all) | 0.750 ± 0.050 [0.700, 0.800] (3) |") || !strings.Contains(md, "| scratch | transfer |") {
		t.Errorf("table:\n%s", md)
	}
	if !strings.Contains(results(row(Scratch, 1, 1, 0.3)).Conclusion(), "No comparison") {
		t.Error("scratch only: no 'No comparison'")
	}
	for _, fig := range []func() ([]byte, error){r.DiceVsNFigure, func() ([]byte, error) { return r.CurvesFigure(1) }} {
		png, err := fig()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Error("not a PNG")
		}
	}
	if _, err := r.CurvesFigure(8); err == nil {
		t.Error("curves of an absent N: no error")
	}
}

func TestResultsSaveLoad(t *testing.T) {
	dir := t.TempDir()
	r := results(row(Scratch, 1, 1, 0.3), row(Frozen, 1, 1, 0.4))
	if err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 2 || got.Find(Frozen, 1, 1).Dice != 0.4 || got.Find(Transfer, 1, 1) != nil {
		t.Errorf("round trip: %+v", got.Rows)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, ResultsCSV))
	if n := strings.Count(string(csv), "\n"); n != 3 {
		t.Errorf("csv has %d lines:\n%s", n, csv)
	}
	if err := os.WriteFile(filepath.Join(dir, ResultsJSON), []byte(`{"rows":[{"arm":""}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadResults(dir); err == nil || !strings.Contains(err.Error(), ResultsJSON) {
		t.Errorf("bad file: %v", err)
	}
}

func TestReadCurve(t *testing.T) {
	dir := t.TempDir()
	csv := "step,loss,lr,seconds,mean_dice,val_dice\n1,1.4,0.001,1.0,,\n2,1.3,0.001,2.0,0.25,0.25\n4,1.2,0.001,3.0,0.5,0.5\n"
	if err := os.WriteFile(filepath.Join(dir, train.MetricsCSVFile), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCurve(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []Point{{2, 0.25}, {4, 0.5}}) {
		t.Errorf("curve %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, train.MetricsCSVFile), []byte("h\nx,1,1,1,0.5,0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCurve(dir); err == nil {
		t.Error("bad row: no error")
	}
}

// TestRunAllPhantoms runs the whole experiment on generated phantoms (fast mode, no data) and
// checks that a rerun resumes without retraining.
func TestRunAllPhantoms(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 5 tiny networks")
	}
	t.Setenv("MSD_FAST", "1")
	runs := t.TempDir()
	t.Setenv("MSD_RUNS", runs)
	be, err := backendForTest()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Fast()
	cfg.DataRoot = t.TempDir() // empty: phantoms
	cfg.OutDir = filepath.Join(runs, "exp")
	cfg.Ns, cfg.Seeds = []int{1}, []uint64{1, 2}
	cfg.Arms = []string{Scratch, Transfer}
	cfg.Target.Steps, cfg.Source.Steps = 2, 2
	e, err := Prepare(be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !e.TargetSynthetic || !e.SourceSynthetic {
		t.Fatalf("expected phantoms, got synthetic %v/%v", e.SourceSynthetic, e.TargetSynthetic)
	}
	if md := e.PlansMarkdown(); !strings.Contains(md, "| levels | ") {
		t.Errorf("plans table:\n%s", md)
	}
	res, err := e.RunAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 4 {
		t.Fatalf("%d rows, want 4", len(res.Rows))
	}
	test := e.TestIDs
	for _, r := range res.Rows {
		if r.N != 1 || len(r.PerCase) != len(test) || math.IsNaN(r.Dice) || len(r.Curve) == 0 {
			t.Errorf("row %+v", r)
		}
		for _, id := range r.Cases {
			if slices.Contains(test, id) {
				t.Errorf("%s trained on test case %s", r.Arm, id)
			}
		}
	}
	if !slices.Equal(res.Find(Scratch, 1, 1).Cases, res.Find(Transfer, 1, 1).Cases) {
		t.Error("arms of one seed trained on different cases")
	}
	// A rerun loads the finished rows: same numbers, nothing retrained.
	e2, err := Prepare(be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := e2.RunAll()
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Rows {
		if res2.Rows[i].Dice != res.Rows[i].Dice || res2.Rows[i].Seconds != res.Rows[i].Seconds {
			t.Errorf("row %d changed on rerun", i)
		}
	}
	// Another design in the same folder is refused.
	cfg.Target.Steps = 3
	e3, err := Prepare(be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e3.RunAll(); err == nil || !strings.Contains(err.Error(), "another design") {
		t.Errorf("changed budget: %v", err)
	}
}
