package plans

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/fingerprint"
	"github.com/msdkit/msdkit/pkg/volume"
)

func TestParseBudget(t *testing.T) {
	for _, tc := range []struct {
		in    string
		kind  string
		bytes int64
	}{
		{"GPU 8 GB", "GPU", 8e9},
		{"CPU RAM 4 GB", "CPU", 4e9},
		{"16GiB", "GPU", 16 << 30},
		{"gpu 11.5 gb", "GPU", 11.5e9},
		{"ram 512 MB", "CPU", 512e6},
		{"123456", "GPU", 123456},
		{"CPU 4 TB", "CPU", 4e12},
		{"GPU 16G", "GPU", 16e9},
	} {
		b, err := ParseBudget(tc.in)
		if err != nil || b.Kind != tc.kind || b.Bytes != tc.bytes {
			t.Errorf("ParseBudget(%q) = %+v, %v; want %s %d", tc.in, b, err, tc.kind, tc.bytes)
		}
	}
	for _, bad := range []string{"", "GPU", "lots", "GPU -3 GB", "CPU 4 XB"} {
		if _, err := ParseBudget(bad); err == nil {
			t.Errorf("ParseBudget(%q) accepted", bad)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"123": 123, "8GB": 8e9, "4 GiB": 4 << 30, "512mb": 512e6, "1.5KiB": 1536, "2TiB": 2 << 40, "6g": 6e9} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GB", "-1GB", "0", "eight", "NaN", "9e30TB"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

func TestPoolAndConv(t *testing.T) {
	for _, tc := range []struct {
		spacing   []float64
		patch     []int
		wantPools []int
		wantPatch []int
		firstConv []int
	}{
		// nnU-Net Hippocampus (x,y,z): median 35x50x36 -> 40x56x40, 3 pools each.
		{[]float64{1, 1, 1}, []int{35, 50, 36}, []int{3, 3, 3}, []int{40, 56, 40}, []int{3, 3, 3}},
		// Anisotropic: z is pooled only once x,y reached its spacing.
		{[]float64{0.7, 0.7, 3}, []int{256, 256, 20}, []int{6, 6, 2}, []int{256, 256, 20}, []int{3, 3, 1}},
		{[]float64{1, 1}, []int{50, 36}, []int{3, 3}, []int{56, 40}, []int{3, 3}},
		{[]float64{1, 1, 1}, []int{7, 100, 100}, []int{0, 4, 4}, []int{7, 112, 112}, []int{3, 3, 3}},
	} {
		topo := PoolAndConv(tc.spacing, tc.patch, 4)
		if !slices.Equal(topo.PoolPerAxis, tc.wantPools) || !slices.Equal(topo.Patch, tc.wantPatch) || !slices.Equal(topo.ConvKernels[0], tc.firstConv) {
			t.Errorf("PoolAndConv(%v,%v) = pools %v patch %v conv0 %v; want %v %v %v", tc.spacing, tc.patch, topo.PoolPerAxis, topo.Patch, topo.ConvKernels[0], tc.wantPools, tc.wantPatch, tc.firstConv)
		}
		if len(topo.ConvKernels) != len(topo.PoolKernels)+1 {
			t.Errorf("%d conv kernels for %d pools", len(topo.ConvKernels), len(topo.PoolKernels))
		}
	}
}

func TestTargetSpacing(t *testing.T) {
	iso := TargetSpacing([][3]float64{{1, 1, 1}, {0.8, 1, 1.2}, {1, 1.1, 1}}, [][3]int{{10, 10, 10}, {10, 10, 10}, {10, 10, 10}}, 3)
	if iso != [3]float64{1, 1, 1} {
		t.Errorf("median spacing %v", iso)
	}
	// Anisotropic in spacing and voxels: z takes its 10th percentile.
	var sp [][3]float64
	var sh [][3]int
	for i := 0; i < 10; i++ {
		z := 5.0
		if i < 3 {
			z = 2.5
		}
		sp = append(sp, [3]float64{0.7, 0.7, z})
		sh = append(sh, [3]int{512, 512, 30})
	}
	got := TargetSpacing(sp, sh, 3)
	if got[0] != 0.7 || math.Abs(got[2]-2.5) > 1e-9 {
		t.Errorf("anisotropic target %v, want z=2.5", got)
	}
	// Anisotropic spacing but many slices: median kept.
	for i := range sh {
		sh[i][2] = 400
	}
	if got := TargetSpacing(sp, sh, 3); got[2] != 5 {
		t.Errorf("many slices: target %v, want z=5", got)
	}
}

// synthFP is a fingerprint of n cases of the given spacing and shape.
func synthFP(n int, spacing [3]float64, shape [3]int, modality string) *fingerprint.Fingerprint {
	f := &fingerprint.Fingerprint{Dataset: "Synth", AxisOrder: "x,y,z", Orientation: "RAS", Modalities: []string{modality},
		LabelValues: []int{0, 1, 2}, MedianRelativeSizeAfterCrop: 0.6,
		ForegroundPerChannel: []fingerprint.Stats{{N: 100, Mean: 50, Std: 20, Min: -1000, Max: 3000, Median: 40, P005: -100, P995: 300}}}
	for i := 0; i < n; i++ {
		s := shape
		s[i%3] += i % 5
		f.Cases = append(f.Cases, fingerprint.CaseInfo{ID: "c", Spacing: spacing, ShapeBeforeCrop: s, ShapeAfterCrop: s})
	}
	return f
}

func TestPlanRules(t *testing.T) {
	fps := []*fingerprint.Fingerprint{
		synthFP(100, [3]float64{1, 1, 1}, [3]int{35, 50, 36}, "MRI"),
		synthFP(40, [3]float64{0.8, 0.8, 2.5}, [3]int{400, 400, 120}, "CT"),
		synthFP(30, [3]float64{0.7, 0.7, 5}, [3]int{512, 512, 20}, "T2"),
	}
	for fi, fp := range fps {
		var prevVox [2]float64
		for _, gb := range []float64{0.5, 1, 2, 4, 8, 16, 32, 64} {
			p, err := Make(fp, Options{Budget: strings.TrimRight(strings.TrimRight(formatFloat(gb), "0"), ".") + " GB"})
			if err != nil {
				t.Fatalf("fp %d %g GB: %v", fi, gb, err)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("fp %d %g GB: invalid plan: %v", fi, gb, err)
			}
			for k, name := range []string{Config3D, Config2D} {
				c := p.Configurations[name]
				vox := 1.0
				for i, s := range c.PatchSize {
					vox *= float64(s)
					if s%(1<<c.PoolPerAxis[i]) != 0 {
						t.Errorf("fp %d %s: patch %v not divisible by 2^%v", fi, name, c.PatchSize, c.PoolPerAxis)
					}
					if s > 2*c.MedianShape[c.Axes[i]]+(1<<c.PoolPerAxis[i]) {
						t.Errorf("fp %d %s: patch %v far above median %v", fi, name, c.PatchSize, c.MedianShape)
					}
				}
				if c.BatchSize < 2 {
					t.Errorf("fp %d %s: batch %d", fi, name, c.BatchSize)
				}
				// Memory for the minimum batch fits the budget.
				if min2 := c.EstimatedBytes / int64(c.BatchSize) * 2; min2 > p.BudgetBytes {
					t.Errorf("fp %d %s %g GB: batch-2 estimate %d over budget", fi, name, gb, min2)
				}
				for l, f := range c.Filters {
					if f > c.MaxFilters || (l > 0 && f < c.Filters[l-1]) {
						t.Errorf("fp %d %s: filters %v", fi, name, c.Filters)
					}
				}
				if vox < prevVox[k] {
					t.Errorf("fp %d %s: patch shrank from %g to %g voxels when the budget grew to %g GB", fi, name, prevVox[k], vox, gb)
				}
				prevVox[k] = vox
			}
			if fp.Modalities[0] == "CT" {
				if n := p.Normalization[0]; n.Scheme != "CT" || n.Lower != -100 || n.Upper != 300 || n.Mean != 50 {
					t.Errorf("CT normalisation %+v", n)
				}
			} else if n := p.Normalization[0]; n.Scheme != "ZScore" || !n.UseMask {
				t.Errorf("MRI normalisation %+v", n)
			}
		}
	}
	// The anisotropic set slices along z and pools z less.
	p, _ := Make(fps[2], Options{})
	if c := p.Configurations[Config2D]; *c.SliceAxis != 2 || !slices.Equal(c.Axes, []int{0, 1}) {
		t.Errorf("2D axes %v slice %d", c.Axes, *c.SliceAxis)
	}
	if c := p.Configurations[Config3D]; c.PoolPerAxis[2] >= c.PoolPerAxis[0] {
		t.Errorf("anisotropic pools %v", c.PoolPerAxis)
	}
	// More base filters cost memory: the patch cannot grow.
	a, _ := Make(fps[1], Options{})
	b, _ := Make(fps[1], Options{BaseFilters: 64})
	if prod(b.Configurations[Config3D].PatchSize) > prod(a.Configurations[Config3D].PatchSize) || b.Configurations[Config3D].Filters[0] != 64 {
		t.Errorf("base 64 patch %v vs base 32 %v", b.Configurations[Config3D].PatchSize, a.Configurations[Config3D].PatchSize)
	}
	// CPU budgets count float32: same bytes give a smaller or equal patch.
	c, _ := Make(fps[1], Options{Budget: "CPU RAM 8 GB"})
	if prod(c.Configurations[Config3D].PatchSize) > prod(a.Configurations[Config3D].PatchSize) {
		t.Errorf("CPU patch %v larger than GPU %v", c.Configurations[Config3D].PatchSize, a.Configurations[Config3D].PatchSize)
	}
	if _, err := Make(fps[1], Options{Budget: "1000"}); err == nil {
		t.Error("1 MB budget accepted")
	}
}

// TestPrecision: GPU budgets plan bf16 mixed precision, CPU budgets float32; float32 counts twice
// the bytes per element, so on the same budget it gets a smaller patch or batch.
func TestPrecision(t *testing.T) {
	fp := synthFP(40, [3]float64{0.8, 0.8, 2.5}, [3]int{400, 400, 120}, "CT")
	plan := func(o Options) *Plans {
		t.Helper()
		p, err := Make(fp, o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	gpu, cpu := plan(Options{Budget: "GPU 8 GB"}), plan(Options{Budget: "CPU RAM 8 GB"})
	if gpu.Precision != PrecisionBF16 || cpu.Precision != PrecisionFloat32 {
		t.Errorf("precisions GPU %q, CPU %q; want bf16, float32", gpu.Precision, cpu.Precision)
	}
	gpu32 := plan(Options{Budget: "GPU 8 GB", Precision: PrecisionFloat32})
	if !reflect.DeepEqual(gpu32.Configurations, cpu.Configurations) {
		t.Errorf("float32 on GPU 8 GB planned otherwise than float32 on CPU 8 GB")
	}
	b16, f32 := gpu.Configurations[Config3D], gpu32.Configurations[Config3D]
	if prod(f32.PatchSize)*f32.BatchSize >= prod(b16.PatchSize)*b16.BatchSize {
		t.Errorf("float32 patch %v batch %d is not smaller than bf16 patch %v batch %d",
			f32.PatchSize, f32.BatchSize, b16.PatchSize, b16.BatchSize)
	}
	if _, err := Make(fp, Options{Precision: "fp16"}); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("precision fp16 accepted: %v", err)
	}
	// A plan written before the field existed reads with its budget's default.
	raw, err := cpu.JSON()
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(raw), `"precision": "float32",`, "", 1)
	if old == string(raw) {
		t.Fatal("precision field not found in the plan JSON")
	}
	q, err := Parse([]byte(old))
	if err != nil || q.Precision != PrecisionFloat32 {
		t.Errorf("plan without precision: %v, precision %q", err, q.Precision)
	}
	if _, err := Parse([]byte(strings.Replace(string(raw), `"precision": "float32"`, `"precision": "half"`, 1))); err == nil {
		t.Error("precision half accepted")
	}
}

func formatFloat(x float64) string { return strings.TrimSpace(strings.Replace(fmtG(x), "+", "", 1)) }

func fmtG(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func prod(s []int) int {
	p := 1
	for _, x := range s {
		p *= x
	}
	return p
}

func TestSaveLoadValidate(t *testing.T) {
	p, err := Make(synthFP(20, [3]float64{1, 1, 1}, [3]int{35, 50, 36}, "MRI"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "plans.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.PreprocessHash() != p.PreprocessHash() || !slices.Equal(q.Configurations[Config3D].PatchSize, p.Configurations[Config3D].PatchSize) {
		t.Error("round trip changed the plan")
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), "\n  \"target_spacing\": [1, 1, 1],\n") {
		t.Error("plan JSON is not indented")
	}
	for _, tc := range []struct{ edit, want string }{
		{`"patch_size": [40, 56]`, `"patch_size": [41, 56]`},
		{`"scheme": "ZScore"`, `"scheme": "Zscore"`},
		{`"batch_size":`, `"batch_sise":`},
		{`"version": 1`, `"version": 7`},
		{`"image_interpolation": "linear"`, `"image_interpolation": "spline"`},
		{`"image_interpolation": "linear"`, `"image_interpolation": "nearest"`},
	} {
		bad := strings.Replace(string(raw), tc.edit, tc.want, 1)
		if bad == string(raw) {
			t.Fatalf("edit %q not found", tc.edit)
		}
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "plans.json") {
			t.Errorf("edit %q: %v", tc.want, err)
		} else {
			t.Logf("edit %q: %v", tc.want, err)
		}
	}
	// The hash follows the preprocessing fields only.
	h := p.PreprocessHash()
	p.Configurations[Config3D].BatchSize = 99
	if p.PreprocessHash() != h {
		t.Error("batch size changed the preprocessing hash")
	}
	p.ImageInterpolation = volume.Cubic
	if p.PreprocessHash() == h {
		t.Error("interpolation did not change the preprocessing hash")
	}
	p.TargetSpacing[2] = 1.5
	h2 := p.PreprocessHash()
	if h2 == h {
		t.Error("target spacing did not change the preprocessing hash")
	}
}

func TestRealPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("reads real data")
	}
	for _, task := range []string{"Task04_Hippocampus", "LA2018_LeftAtrium"} {
		dir := filepath.Join("..", "..", "..", "shared", "data", task)
		if _, err := os.Stat(dir); err != nil {
			t.Skip("no real data")
		}
		in, err := fingerprint.InputFromFolder(dir)
		if err != nil {
			t.Fatal(err)
		}
		fp, err := fingerprint.Compute(in, fingerprint.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Make(fp, Options{Budget: "GPU 8 GB"})
		if err != nil {
			t.Fatal(err)
		}
		c := p.Configurations[Config3D]
		t.Logf("%s: spacing %v median %v 3D patch %v batch %d pools %v filters %v; 2D patch %v batch %d",
			task, p.TargetSpacing, c.MedianShape, c.PatchSize, c.BatchSize, c.PoolPerAxis, c.Filters,
			p.Configurations[Config2D].PatchSize, p.Configurations[Config2D].BatchSize)
		if task == "Task04_Hippocampus" {
			if p.TargetSpacing != [3]float64{1, 1, 1} || !slices.Equal(c.PatchSize, []int{40, 56, 40}) || c.BatchSize < 6 || c.BatchSize > 10 {
				t.Errorf("Hippocampus plan far from nnU-Net's (1 mm, 40x56x40, batch 9)")
			}
		}
	}
}
