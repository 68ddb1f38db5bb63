package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one curve: Y against X, with an optional band [Lo, Hi] (the
// spread over seeds, for instance). NaN values (an undefined Dice, say)
// leave gaps.
type Series struct {
	Name   string
	X, Y   []float64
	Lo, Hi []float64
	// Smooth in (0, 1) draws the series as an exponential moving average
	// with this weight on the past (TensorBoard's smoothing, debiased) over
	// the raw values in a faint line: for noisy per-step losses.
	Smooth float64
}

// Spread selects the band that Aggregate computes.
type Spread int

const (
	// MinMax bands span the smallest to the largest run.
	MinMax Spread = iota
	// MeanSD bands span mean ± one (sample, n-1) standard deviation.
	MeanSD
)

// Aggregate summarises runs (runs[r][i] is the value of run r, a seed say,
// at x[i]) as their mean with a band; NaN values are left out of each
// point's statistics, and a point with no finite value is NaN.
func Aggregate(name string, x []float64, runs [][]float64, s Spread) (Series, error) {
	if len(runs) == 0 {
		return Series{}, fmt.Errorf("plot: Aggregate %q: no runs", name)
	}
	for r, y := range runs {
		if len(y) != len(x) {
			return Series{}, fmt.Errorf("plot: Aggregate %q: run %d has %d values for %d x values", name, r, len(y), len(x))
		}
	}
	out := Series{Name: name, X: append([]float64(nil), x...)}
	for i := range x {
		var n, sum, lo, hi = 0.0, 0.0, math.Inf(1), math.Inf(-1)
		for _, y := range runs {
			if v := y[i]; !math.IsNaN(v) {
				n++
				sum += v
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		mean := sum / n
		if n == 0 {
			mean, lo, hi = math.NaN(), math.NaN(), math.NaN()
		} else if s == MeanSD {
			ss := 0.0
			for _, y := range runs {
				if v := y[i]; !math.IsNaN(v) {
					ss += (v - mean) * (v - mean)
				}
			}
			sd := 0.0
			if n > 1 {
				sd = math.Sqrt(ss / (n - 1))
			}
			lo, hi = mean-sd, mean+sd
		}
		out.Y = append(out.Y, mean)
		out.Lo = append(out.Lo, lo)
		out.Hi = append(out.Hi, hi)
	}
	return out, nil
}

// CurvesOptions configures Curves.
type CurvesOptions struct {
	Title, XLabel, YLabel string
	// LogX and LogY use logarithmic axes (all values must be positive).
	LogX, LogY bool
	// YRange fixes the y axis when YRange[1] > YRange[0].
	YRange [2]float64
	// Points marks each data point with a glyph (for sparse x, like Dice vs N).
	Points bool
	// Width and Height in pixels, default 640 x 400.
	Width, Height int
	// Format selects PNG (default) or SVG.
	Format Format
}

// lineColors are Okabe-Ito colours dark enough for lines on white; series
// also differ by dash pattern (and glyph) so curves stay distinct in grey print.
var lineColors = []color.NRGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{0, 0, 0, 255},
}

// Curves draws the series as lines (training loss, Dice per label against
// step or epoch, Dice against the number of training cases N) with their
// bands shaded, a grid and a legend, and returns the encoded figure.
func Curves(series []Series, opts CurvesOptions) ([]byte, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("plot: Curves: no series")
	}
	w, h := opts.Width, opts.Height
	if w == 0 {
		w = 640
	}
	if h == 0 {
		h = 400
	}
	p := gplot.New()
	sans := font.Font{Typeface: "Liberation", Variant: "Sans"}
	p.Title.Text = opts.Title
	p.Title.TextStyle = style(14, true)
	p.Title.TextStyle.XAlign, p.Title.TextStyle.YAlign = text.XCenter, text.YTop
	p.Title.Padding = px(6)
	p.X.Label.Text, p.Y.Label.Text = opts.XLabel, opts.YLabel
	for _, a := range []*gplot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 12)
		a.Tick.Label.Font = font.From(sans, 10)
	}
	p.Legend.TextStyle.Font = font.From(sans, 11)
	p.Add(plotter.NewGrid())
	if opts.LogX {
		p.X.Scale, p.X.Tick.Marker = gplot.LogScale{}, logTicks{}
	}
	if opts.LogY {
		p.Y.Scale, p.Y.Tick.Marker = gplot.LogScale{}, logTicks{}
	}

	upper := 0 // series ending in the upper half of their range
	for i, s := range series {
		if err := checkSeries(s, opts); err != nil {
			return nil, err
		}
		col := lineColors[i%len(lineColors)]
		if s.Lo != nil {
			band := color.NRGBA{col.R, col.G, col.B, 56}
			for _, seg := range segments(len(s.X), func(j int) bool { return finite(s.Lo[j]) && finite(s.Hi[j]) }) {
				ring := make(plotter.XYs, 0, 2*len(seg))
				for _, j := range seg {
					ring = append(ring, plotter.XY{X: s.X[j], Y: s.Lo[j]})
				}
				for k := len(seg) - 1; k >= 0; k-- {
					ring = append(ring, plotter.XY{X: s.X[seg[k]], Y: s.Hi[seg[k]]})
				}
				poly, err := plotter.NewPolygon(ring)
				if err != nil {
					return nil, fmt.Errorf("plot: series %q band: %w", s.Name, err)
				}
				poly.Color, poly.LineStyle.Width = band, 0
				p.Add(poly)
			}
		}
		ls := draw.LineStyle{Color: col, Width: vg.Points(1.6), Dashes: plotutil.Dashes(i)}
		gs := draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: plotutil.Shape(i)}
		var thumbs []gplot.Thumbnailer
		for n, seg := range segments(len(s.X), func(j int) bool { return finite(s.Y[j]) }) {
			xy := make(plotter.XYs, len(seg))
			for k, j := range seg {
				xy[k] = plotter.XY{X: s.X[j], Y: s.Y[j]}
			}
			if s.Smooth > 0 {
				raw, err := plotter.NewLine(xy)
				if err != nil {
					return nil, fmt.Errorf("plot: series %q: %w", s.Name, err)
				}
				raw.LineStyle = draw.LineStyle{Color: color.NRGBA{col.R, col.G, col.B, 70}, Width: vg.Points(0.8)}
				p.Add(raw)
				xy = ema(xy, s.Smooth)
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, fmt.Errorf("plot: series %q: %w", s.Name, err)
			}
			l.LineStyle = ls
			p.Add(l)
			if n == 0 {
				thumbs = append(thumbs, l)
			}
			if opts.Points {
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return nil, fmt.Errorf("plot: series %q: %w", s.Name, err)
				}
				sc.GlyphStyle = gs
				p.Add(sc)
				if n == 0 {
					thumbs = append(thumbs, sc)
				}
			}
		}
		if s.Name != "" && len(thumbs) > 0 {
			p.Legend.Add(s.Name, thumbs...)
		}
		if endsHigh(s) {
			upper++
		}
	}
	if opts.YRange[1] > opts.YRange[0] {
		p.Y.Min, p.Y.Max = opts.YRange[0], opts.YRange[1]
	}
	// gonum widens a one-value range to [v-1, v+1], which a log axis cannot draw when v <= 1:
	// widen it by a factor of 2 either way instead.
	for _, a := range []struct {
		log  bool
		axis *gplot.Axis
	}{{opts.LogX, &p.X}, {opts.LogY, &p.Y}} {
		if a.log && a.axis.Min == a.axis.Max {
			a.axis.Min, a.axis.Max = a.axis.Min/2, a.axis.Max*2
		}
	}
	// Keep the legend off the curves' ends: bottom right when most end high.
	p.Legend.Top = 2*upper <= len(series)
	p.Legend.XOffs = -px(8)
	p.Legend.YOffs = px(8)
	if p.Legend.Top {
		p.Legend.YOffs = -px(8)
	}
	fig, err := newFigure(w, h, opts.Format)
	if err != nil {
		return nil, err
	}
	p.Draw(draw.Crop(fig.c, px(6), -px(16), px(4), -px(8)))
	return fig.encode()
}

// logTicks marks 1, 2 and 5 times the powers of ten in range (labelled),
// and the other integer multiples (unlabelled); gonum's LogTicks labels
// powers of ten only, which leaves short ranges like N = 5..80 unreadable.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []gplot.Tick {
	var t []gplot.Tick
	if !(lo > 0) || !(hi >= lo) {
		return t
	}
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			lbl := ""
			if m == 1 || m == 2 || m == 5 {
				lbl = strconv.FormatFloat(v, 'g', -1, 64)
			}
			t = append(t, gplot.Tick{Value: v, Label: lbl})
		}
	}
	return t
}

// ema returns the debiased exponential moving average of the y values:
// m_k = w·m_{k-1} + (1-w)·y_k, m_0 = 0, reported as m_k / (1 - w^k).
func ema(xy plotter.XYs, w float64) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	m, wk := 0.0, 1.0
	for i, p := range xy {
		m = w*m + (1-w)*p.Y
		wk *= w
		out[i] = plotter.XY{X: p.X, Y: m / (1 - wk)}
	}
	return out
}

// DiceVsN plots Dice against the number of training cases N: points joined
// by lines, y from 0 to 1, with default axis labels.
func DiceVsN(series []Series, opts CurvesOptions) ([]byte, error) {
	opts.Points = true
	if opts.XLabel == "" {
		opts.XLabel = "training cases N"
	}
	if opts.YLabel == "" {
		opts.YLabel = "Dice"
	}
	if !(opts.YRange[1] > opts.YRange[0]) {
		opts.YRange = [2]float64{0, 1}
	}
	return Curves(series, opts)
}

func checkSeries(s Series, opts CurvesOptions) error {
	n := len(s.X)
	if len(s.Y) != n {
		return fmt.Errorf("plot: series %q: %d x values, %d y values", s.Name, n, len(s.Y))
	}
	if (s.Lo == nil) != (s.Hi == nil) || (s.Lo != nil && (len(s.Lo) != n || len(s.Hi) != n)) {
		return fmt.Errorf("plot: series %q: band needs Lo and Hi with %d values each", s.Name, n)
	}
	if s.Smooth < 0 || s.Smooth >= 1 {
		return fmt.Errorf("plot: series %q: Smooth %g outside [0, 1)", s.Name, s.Smooth)
	}
	for i := 0; i < n; i++ {
		if !finite(s.X[i]) {
			return fmt.Errorf("plot: series %q: x[%d] = %g", s.Name, i, s.X[i])
		}
		if opts.LogX && s.X[i] <= 0 {
			return fmt.Errorf("plot: series %q: x[%d] = %g on a log axis", s.Name, i, s.X[i])
		}
		if opts.LogY {
			for _, v := range []float64{s.Y[i], at(s.Lo, i), at(s.Hi, i)} {
				if v <= 0 {
					return fmt.Errorf("plot: series %q: value %g at x[%d] on a log axis", s.Name, v, i)
				}
			}
		}
	}
	return nil
}

func at(x []float64, i int) float64 {
	if x == nil {
		return math.NaN()
	}
	return x[i]
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// segments splits 0..n-1 into maximal runs of indices where ok holds.
func segments(n int, ok func(int) bool) [][]int {
	var out [][]int
	var cur []int
	for i := 0; i < n; i++ {
		if ok(i) {
			cur = append(cur, i)
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// endsHigh reports whether the last finite value of s lies in the upper
// half of its finite values' range.
func endsHigh(s Series) bool {
	lo, hi, last := math.Inf(1), math.Inf(-1), math.NaN()
	for _, v := range s.Y {
		if finite(v) {
			lo, hi, last = math.Min(lo, v), math.Max(hi, v), v
		}
	}
	return finite(last) && hi > lo && last > (lo+hi)/2
}
