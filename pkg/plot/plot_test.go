package plot

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/msdkit/msdkit/pkg/volume"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata/")

// phantom returns a synthetic head-like volume: an ellipsoid of intensity
// rising with z, with two labels (its left and right inner halves in
// world x), plus a "prediction" shifted by two voxels along y.
func phantom(shape [3]int, spacing [3]float64) (img, lab, pred *volume.Volume) {
	img = volume.New(shape, 1, spacing)
	lab = volume.New(shape, 1, spacing)
	pred = volume.New(shape, 1, spacing)
	c := [3]float64{float64(shape[0]-1) / 2, float64(shape[1]-1) / 2, float64(shape[2]-1) / 2}
	for z := 0; z < shape[2]; z++ {
		for y := 0; y < shape[1]; y++ {
			for x := 0; x < shape[0]; x++ {
				i := img.Index(x, y, z)
				d := 0.0
				for a, q := range [3]int{x, y, z} {
					t := (float64(q) - c[a]) / (0.45 * float64(shape[a]))
					d += t * t
				}
				if d < 1 {
					img.Data[i] = float32(100 + 50*float64(z)/float64(shape[2]) + 20*float64(y)/float64(shape[1]))
				}
				if d < 0.35 {
					img.Data[i] += 80
					if x < shape[0]/2 {
						lab.Data[i] = 1
					} else {
						lab.Data[i] = 2
					}
				}
			}
		}
	}
	for z := 0; z < shape[2]; z++ {
		for y := 2; y < shape[1]; y++ {
			for x := 0; x < shape[0]; x++ {
				pred.Data[pred.Index(x, y, z)] = lab.Data[lab.Index(x, y-2, z)]
			}
		}
	}
	return img, lab, pred
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	im, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding PNG: %v", err)
	}
	return im
}

// golden compares the PNG got with testdata/name, allowing channel
// differences up to 16 on at most 0.2% of the pixels (font rasterisation).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	g, w := decode(t, got), decode(t, want)
	if g.Bounds() != w.Bounds() {
		t.Fatalf("%s: size %v, golden %v", name, g.Bounds(), w.Bounds())
	}
	bad := 0
	b := g.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, _ := g.At(x, y).RGBA()
			r2, g2, b2, _ := w.At(x, y).RGBA()
			if d := max(diff(r1, r2), diff(g1, g2), diff(b1, b2)); d > 16 {
				bad++
			}
		}
	}
	if frac := float64(bad) / float64(b.Dx()*b.Dy()); frac > 0.002 {
		os.WriteFile(filepath.Join(t.TempDir(), name), got, 0o644)
		t.Errorf("%s: %d pixels (%.2f%%) differ from the golden image", name, bad, 100*frac)
	}
}

func diff(a, b uint32) int {
	return abs(int(a>>8) - int(b>>8))
}

var names = map[int]string{1: "Anterior", 2: "Posterior"}

func TestSliceGolden(t *testing.T) {
	img, lab, pred := phantom([3]int{28, 24, 12}, [3]float64{1, 1, 2.5})
	for _, tc := range []struct {
		name string
		opts SliceOptions
	}{
		{"slice_axial_panels.png", SliceOptions{Plane: Axial, Index: Auto, Labels: lab, Prediction: pred, LabelNames: names, Title: "phantom", PanelSize: 160}},
		{"slice_coronal_overlay.png", SliceOptions{Plane: Coronal, Index: Auto, Labels: lab, LabelNames: names, PanelSize: 160}},
		{"slice_sagittal_plain.png", SliceOptions{Plane: Sagittal, Index: 9, PanelSize: 160, Smooth: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Slice(img, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b)
		})
	}
}

func TestCurvesGolden(t *testing.T) {
	steps := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	var loss, dice [][]float64
	for seed := 0; seed < 3; seed++ {
		var l, d []float64
		for _, s := range steps {
			l = append(l, 1.2/math.Sqrt(s)+0.03*float64(seed))
			d = append(d, 0.85*(1-math.Exp(-s/3))+0.02*float64(seed))
		}
		loss, dice = append(loss, l), append(dice, d)
	}
	dice[1][4] = math.NaN() // an undefined value is left out of the band
	ls, err := Aggregate("loss", steps, loss, MeanSD)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Aggregate("Dice anterior", steps, dice, MinMax)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Curves([]Series{ls, ds}, CurvesOptions{Title: "training", XLabel: "epoch", Width: 480, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "curves_training.png", b)

	n := []float64{5, 10, 20, 40, 80}
	b, err = DiceVsN([]Series{
		{Name: "anterior", X: n, Y: []float64{0.6, 0.72, 0.8, 0.85, 0.88}, Lo: []float64{0.55, 0.7, 0.78, 0.84, 0.87}, Hi: []float64{0.65, 0.75, 0.82, 0.86, 0.89}},
		{Name: "posterior", X: n, Y: []float64{0.55, math.NaN(), 0.78, 0.83, 0.86}},
	}, CurvesOptions{LogX: true, Width: 480, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "curves_dice_vs_n.png", b)
	// One N on a log axis (a reduced transfer experiment with -ns 1) draws instead of panicking.
	if b, err := DiceVsN([]Series{{Name: "scratch", X: []float64{1}, Y: []float64{0.5}}}, CurvesOptions{LogX: true}); err != nil || len(b) == 0 {
		t.Errorf("single point on a log axis: %d bytes, %v", len(b), err)
	}

	// A noisy per-step loss with EMA smoothing, and a sparse validation Dice.
	var loss2, dice2 Series
	loss2.Name, dice2.Name = "batch loss", "validation Dice"
	loss2.Smooth = 0.9
	for k := 1; k <= 300; k++ {
		loss2.X = append(loss2.X, float64(k))
		loss2.Y = append(loss2.Y, 1.5*math.Exp(-float64(k)/80)+0.2+0.15*math.Sin(float64(k)*12.9898))
		if k%50 == 0 {
			dice2.X = append(dice2.X, float64(k))
			dice2.Y = append(dice2.Y, 0.85*(1-math.Exp(-float64(k)/90)))
		}
	}
	b, err = Curves([]Series{loss2, dice2}, CurvesOptions{XLabel: "step", Width: 480, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "curves_smoothed.png", b)
}

func TestEMA(t *testing.T) {
	got := ema(plotter.XYs{{X: 0, Y: 2}, {X: 1, Y: 4}, {X: 2, Y: 4}}, 0.5)
	// m1 = 1 -> 1/0.5 = 2; m2 = 0.5+2 = 2.5 -> 2.5/0.75; m3 = 1.25+2 = 3.25 -> 3.25/0.875
	want := []float64{2, 2.5 / 0.75, 3.25 / 0.875}
	for i := range want {
		if math.Abs(got[i].Y-want[i]) > 1e-12 || got[i].X != float64(i) {
			t.Errorf("ema[%d] = %v, want y %g", i, got[i], want[i])
		}
	}
	if _, err := Curves([]Series{{X: []float64{1}, Y: []float64{1}, Smooth: 1}}, CurvesOptions{}); err == nil {
		t.Error("Smooth 1 accepted")
	}
}

func TestAggregate(t *testing.T) {
	x := []float64{0, 1}
	runs := [][]float64{{1, 2}, {3, math.NaN()}, {5, 4}}
	s, err := Aggregate("a", x, runs, MeanSD)
	if err != nil {
		t.Fatal(err)
	}
	// point 0: mean 3, sample sd 2; point 1: mean 3, sd sqrt(2)
	want := []float64{3, 3, 1, 3 - math.Sqrt2, 5, 3 + math.Sqrt2}
	got := []float64{s.Y[0], s.Y[1], s.Lo[0], s.Lo[1], s.Hi[0], s.Hi[1]}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("MeanSD value %d = %g, want %g", i, got[i], want[i])
		}
	}
	s, _ = Aggregate("a", x, runs, MinMax)
	if s.Lo[0] != 1 || s.Hi[0] != 5 || s.Lo[1] != 2 || s.Hi[1] != 4 {
		t.Errorf("MinMax band %v %v", s.Lo, s.Hi)
	}
	if _, err := Aggregate("a", x, [][]float64{{1}}, MinMax); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestView(t *testing.T) {
	diag := func(a, b, c float64) (m [4][4]float64) {
		m[0][0], m[1][1], m[2][2], m[3][3] = a, b, c, 1
		return m
	}
	// Hippocampus-like permuted affine: voxel x runs inferior->superior...
	var perm [4][4]float64
	perm[2][0], perm[0][1], perm[1][2], perm[3][3] = 1, -1, 1 /* x->S, y->L, z->A */, 1
	for _, tc := range []struct {
		name                     string
		aff                      [4][4]float64
		plane                    Plane
		normal, h, v             int
		hFlip, vFlip             bool
		left, right, top, bottom string
	}{
		{"RAS axial", diag(1, 1, 1), Axial, 2, 0, 1, true, true, "R", "L", "A", "P"},
		{"LPS axial", diag(-1, -1, 2), Axial, 2, 0, 1, false, false, "R", "L", "A", "P"},
		{"RAS coronal", diag(1, 1, 1), Coronal, 1, 0, 2, true, true, "R", "L", "S", "I"},
		{"RAS sagittal", diag(1, 1, 1), Sagittal, 0, 1, 2, true, true, "A", "P", "S", "I"},
		{"LPI sagittal", diag(-1, -1, -1), Sagittal, 0, 1, 2, false, false, "A", "P", "S", "I"},
		{"permuted axial", perm, Axial, 0, 1, 2, false, true, "R", "L", "A", "P"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vw, err := newView(tc.aff, tc.plane)
			if err != nil {
				t.Fatal(err)
			}
			got := []any{vw.normal, vw.h, vw.v, vw.hFlip, vw.vFlip, vw.left, vw.right, vw.top, vw.bottom}
			want := []any{tc.normal, tc.h, tc.v, tc.hFlip, tc.vFlip, tc.left, tc.right, tc.top, tc.bottom}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d: got %v, want %v (view %+v)", i, got[i], want[i], vw)
				}
			}
		})
	}
	if _, err := newView([4][4]float64{}, Axial); err == nil {
		t.Error("singular affine accepted")
	}
}

// TestViewWorldPositions checks the radiological convention on pixels: in
// an axial view of a RAS volume the voxel with the largest world x (the
// patient's right) is drawn in the leftmost column.
func TestViewWorldPositions(t *testing.T) {
	shape := [3]int{5, 4, 3}
	for _, aff := range [][4][4]float64{
		{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}},
		{{-1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, -1, 0}, {0, 0, 0, 1}},
	} {
		vw, _ := newView(aff, Axial)
		world := func(col, row int) (float64, float64) {
			x, y, z := vw.voxel(shape, 1, col, row)
			return aff[0][0]*float64(x) + aff[0][1]*float64(y) + aff[0][2]*float64(z),
				aff[1][0]*float64(x) + aff[1][1]*float64(y) + aff[1][2]*float64(z)
		}
		x0, y0 := world(0, 0)
		x1, y1 := world(shape[vw.h]-1, shape[vw.v]-1)
		if !(x0 > x1) || !(y0 > y1) {
			t.Errorf("affine %v: top-left world (%g,%g), bottom-right (%g,%g); want right/anterior at top-left", aff, x0, y0, x1, y1)
		}
	}
}

// bbox returns the bounding box of the pixels of colour c.
func bbox(im image.Image, c color.NRGBA) image.Rectangle {
	var r image.Rectangle
	first := true
	b := im.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.NRGBAModel.Convert(im.At(x, y)).(color.NRGBA) == c {
				p := image.Rect(x, y, x+1, y+1)
				if first {
					r, first = p, false
				} else {
					r = r.Union(p)
				}
			}
		}
	}
	return r
}

func TestSliceAspect(t *testing.T) {
	shape, spacing := [3]int{20, 16, 10}, [3]float64{1, 0.8, 3}
	img := volume.New(shape, 1, spacing)
	lab := volume.New(shape, 1, spacing)
	for i := range lab.Data {
		lab.Data[i] = 1
		img.Data[i] = float32(i % 7)
	}
	for _, tc := range []struct {
		plane  Plane
		wantWH float64 // physical width / height of the view
	}{
		{Axial, 20 * 1 / (16 * 0.8)},
		{Coronal, 20 * 1 / (10 * 3.0)},
		{Sagittal, 16 * 0.8 / (10 * 3.0)},
	} {
		b, err := Slice(img, SliceOptions{Plane: tc.plane, Labels: lab, Alpha: 1, NoContours: true, NoLegend: true, PanelSize: 200})
		if err != nil {
			t.Fatal(err)
		}
		r := bbox(decode(t, b), LabelColor(1))
		if r.Empty() {
			t.Fatalf("%v: label colour not found", tc.plane)
		}
		got := float64(r.Dx()) / float64(r.Dy())
		if math.Abs(got-tc.wantWH) > 0.02*tc.wantWH || max(r.Dx(), r.Dy()) != 200 {
			t.Errorf("%v: image %dx%d px (w/h %.3f), want longer side 200 and w/h %.3f", tc.plane, r.Dx(), r.Dy(), got, tc.wantWH)
		}
	}
}

func TestSliceLegend(t *testing.T) {
	img, lab, _ := phantom([3]int{16, 16, 8}, [3]float64{1, 1, 1})
	opts := SliceOptions{Index: Auto, Labels: lab, LabelNames: names, PanelSize: 100, NoContours: true}
	opts.NoLegend = true
	plain, err := Slice(img, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoLegend = false
	opts.NoContours = false
	withLegend, err := Slice(img, opts)
	if err != nil {
		t.Fatal(err)
	}
	im0, im := decode(t, plain), decode(t, withLegend)
	for l := 1; l <= 2; l++ {
		r0, r1 := bbox(im0, LabelColor(l)), bbox(im, LabelColor(l))
		if r1.Max.X < r0.Max.X+20 {
			t.Errorf("label %d: no legend swatch right of the image (%v vs %v)", l, r1, r0)
			continue
		}
		sw := bbox(im.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(r0.Max.X+5, 0, r1.Max.X, r1.Max.Y)), LabelColor(l))
		if sw.Dx() < 15 || sw.Dy() < 10 {
			t.Errorf("legend swatch of label %d is %v, want at least 15x10 px", l, sw)
		}
	}
}

func TestSliceErrors(t *testing.T) {
	img, lab, _ := phantom([3]int{8, 8, 4}, [3]float64{1, 1, 1})
	small := volume.New([3]int{8, 8, 3}, 1, [3]float64{1, 1, 1})
	frac := volume.New(img.Shape, 1, img.Spacing)
	frac.Data[5] = 0.5
	for _, tc := range []struct {
		name string
		v    *volume.Volume
		opts SliceOptions
		want string
	}{
		{"nil", nil, SliceOptions{}, "nil volume"},
		{"channel", img, SliceOptions{Channel: 1}, "channel 1"},
		{"shape", img, SliceOptions{Labels: small}, "shape"},
		{"fraction", img, SliceOptions{Prediction: frac}, "not a label"},
		{"index", img, SliceOptions{Plane: Axial, Index: 4}, "out of range"},
		{"percentiles", img, SliceOptions{Percentiles: [2]float64{50, 10}}, "percentiles"},
		{"ok", img, SliceOptions{Labels: lab, Index: Auto, Format: SVG}, ""},
	} {
		_, err := Slice(tc.v, tc.opts)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestAutoIndexAndPercentiles(t *testing.T) {
	shape := [3]int{4, 4, 9}
	lab := volume.New(shape, 1, [3]float64{1, 1, 1})
	lab.Data[lab.Index(1, 1, 6)] = 1
	lab.Data[lab.Index(2, 1, 6)] = 1
	lab.Data[lab.Index(1, 1, 2)] = 2
	vw, _ := newView(lab.Affine, Axial)
	if k := autoIndex(vw, shape, lab); k != 6 {
		t.Errorf("autoIndex = %d, want 6", k)
	}
	if k := autoIndex(vw, shape, nil); k != 4 {
		t.Errorf("autoIndex without labels = %d, want 4", k)
	}
	lo, hi, err := percentiles([]float32{4, 0, 1, 2, 3, float32(math.NaN())}, 25, 90)
	if err != nil || lo != 1 || math.Abs(hi-3.6) > 1e-6 {
		t.Errorf("percentiles = %g, %g, %v; want 1, 3.6", lo, hi, err)
	}
}

func TestDisplayOutsideNotebook(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(PlotDirEnv, dir)
	img, _, _ := phantom([3]int{8, 8, 4}, [3]float64{1, 1, 1})
	b, err := Slice(img, SliceOptions{Index: Auto, PanelSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := Display(b); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "plot-*.png"))
	if len(files) != 1 {
		t.Fatalf("files written: %v", files)
	}
	if err := Viewer(img, nil, ViewerOptions{}); err != ErrNotNotebook {
		t.Errorf("Viewer outside a notebook: %v", err)
	}
}
