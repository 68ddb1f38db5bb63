package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Auto, as SliceOptions.Index, picks the slice automatically.
const Auto = -1

// SliceOptions configures Slice. The zero value shows voxel slice 0 of an
// axial view of channel 0; set Index to Auto for the automatic choice.
type SliceOptions struct {
	// Plane is the anatomical plane shown.
	Plane Plane
	// Index is the voxel index of the slice along the voxel axis nearest to
	// the plane's normal. Negative (Auto) picks the slice with the most
	// labelled voxels (Labels, else Prediction), or the middle slice.
	Index int
	// Channel is the image channel shown.
	Channel int
	// Labels (ground truth) and Prediction are optional integer label maps
	// with the image's shape; label 0 is background and not drawn.
	Labels, Prediction *volume.Volume
	// LabelNames names the labels in the legend (as dataset.json's "labels").
	LabelNames map[int]string
	// SideBySide shows the plain image next to the overlaid one(s):
	// image | labels [| prediction]. It is implied when Prediction is set.
	SideBySide bool
	// Window is an explicit intensity window [low, high]; used when
	// Window[1] > Window[0]. Otherwise the window is set from Percentiles.
	Window [2]float64
	// Percentiles of the channel's intensities mapped to black and white;
	// default {0.5, 99.5}.
	Percentiles [2]float64
	// Alpha is the opacity of the label fill, default 0.4; contours are
	// drawn opaque so labels stay readable in grey-scale print.
	Alpha float64
	// NoContours drops the opaque label outlines.
	NoContours bool
	// Smooth interpolates the image bilinearly (labels stay nearest).
	Smooth bool
	// PanelSize is the longer side of each image panel in pixels, default 320.
	PanelSize int
	// Title is printed above the panels.
	Title string
	// NoLegend drops the label legend.
	NoLegend bool
	// Format selects PNG (default) or SVG output.
	Format Format
}

// LabelColors are the overlay colours of labels 1, 2, ... (cycled). They are
// Okabe-Ito colour-blind-safe colours ordered so that neighbouring labels
// differ in luminance (0.17, 0.74, 0.41, 0.25, ...) and stay distinct in
// grey-scale print.
var LabelColors = []color.NRGBA{
	{213, 94, 0, 255},   // vermillion
	{240, 228, 66, 255}, // yellow
	{86, 180, 233, 255}, // sky blue
	{0, 158, 115, 255},  // bluish green
	{204, 121, 167, 255},
	{0, 114, 178, 255},
	{230, 159, 0, 255},
}

// LabelColor returns the overlay colour of label l > 0 (transparent for
// background, l <= 0).
func LabelColor(l int) color.NRGBA {
	if l <= 0 {
		return color.NRGBA{}
	}
	return LabelColors[(l-1)%len(LabelColors)]
}

// prepared holds what Slice and Viewer compute once per volume.
type prepared struct {
	v           *volume.Volume
	labels      []*volume.Volume // nil entries are allowed
	present     []int            // labels > 0 present in any label map, sorted
	lo, hi      float64          // intensity window
	pLo, pHi    float64          // percentiles used (NaN for explicit windows)
	ch          []float32
	labelTitles []string
}

// prepare validates the inputs and computes the window and label set.
func prepare(v *volume.Volume, opts *SliceOptions) (*prepared, error) {
	if v == nil {
		return nil, fmt.Errorf("plot: nil volume")
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("plot: image: %w", err)
	}
	if opts.Channel < 0 || opts.Channel >= v.Channels {
		return nil, fmt.Errorf("plot: channel %d out of range: image has %d channel(s)", opts.Channel, v.Channels)
	}
	for i, s := range v.Spacing {
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("plot: image spacing[%d] = %g, want a positive number", i, s)
		}
	}
	if opts.Alpha < 0 || opts.Alpha > 1 {
		return nil, fmt.Errorf("plot: Alpha %g outside [0, 1]", opts.Alpha)
	}
	p := &prepared{v: v, ch: v.Channel(opts.Channel)}
	set := map[int]bool{}
	for _, l := range []struct {
		name string
		v    *volume.Volume
	}{{"labels", opts.Labels}, {"prediction", opts.Prediction}} {
		if l.v == nil {
			continue
		}
		if err := checkLabels(l.v, v, set); err != nil {
			return nil, fmt.Errorf("plot: %s: %w", l.name, err)
		}
	}
	for l := range opts.LabelNames {
		if l > 0 {
			set[l] = true
		}
	}
	for l := range set {
		p.present = append(p.present, l)
	}
	sort.Ints(p.present)

	p.pLo, p.pHi = math.NaN(), math.NaN()
	if opts.Window[1] > opts.Window[0] {
		p.lo, p.hi = opts.Window[0], opts.Window[1]
	} else {
		p.pLo, p.pHi = opts.Percentiles[0], opts.Percentiles[1]
		if p.pLo == 0 && p.pHi == 0 {
			p.pLo, p.pHi = 0.5, 99.5
		}
		if !(p.pLo >= 0 && p.pLo < p.pHi && p.pHi <= 100) {
			return nil, fmt.Errorf("plot: percentiles %v, want 0 <= low < high <= 100", opts.Percentiles)
		}
		var err error
		if p.lo, p.hi, err = percentiles(p.ch, p.pLo, p.pHi); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkLabels checks that lv is a one-channel integer label map with the
// geometry of img and adds the labels > 0 it holds to set.
func checkLabels(lv, img *volume.Volume, set map[int]bool) error {
	if err := lv.Validate(); err != nil {
		return err
	}
	if lv.Channels != 1 {
		return fmt.Errorf("%d channels, want 1", lv.Channels)
	}
	if lv.Shape != img.Shape {
		return fmt.Errorf("shape %v differs from the image's %v", lv.Shape, img.Shape)
	}
	var seen [256]bool
	for i, f := range lv.Data {
		r := math.Round(float64(f))
		if math.Abs(float64(f)-r) > 1e-3 || r < 0 || r > 1<<20 {
			x, y, z := i%lv.Shape[0], i/lv.Shape[0]%lv.Shape[1], i/(lv.Shape[0]*lv.Shape[1])
			return fmt.Errorf("voxel (%d,%d,%d) = %g is not a label (a non-negative integer)", x, y, z, f)
		}
		l := int(r)
		if l < len(seen) {
			if seen[l] {
				continue
			}
			seen[l] = true
		}
		if l > 0 {
			set[l] = true
		}
	}
	return nil
}

// percentiles returns the lo-th and hi-th percentiles (0..100, linear
// interpolation between order statistics as numpy's default) of the finite
// values of x. Volumes over 2^20 voxels are subsampled with a fixed stride.
func percentiles(x []float32, lo, hi float64) (float64, float64, error) {
	stride := 1
	if len(x) > 1<<20 {
		stride = (len(x) + (1 << 20) - 1) >> 20
	}
	s := make([]float64, 0, len(x)/stride+1)
	for i := 0; i < len(x); i += stride {
		if f := float64(x[i]); !math.IsNaN(f) && !math.IsInf(f, 0) {
			s = append(s, f)
		}
	}
	if len(s) == 0 {
		return 0, 0, fmt.Errorf("plot: image has no finite values")
	}
	sort.Float64s(s)
	q := func(p float64) float64 {
		r := p / 100 * float64(len(s)-1)
		i := int(math.Floor(r))
		if i >= len(s)-1 {
			return s[len(s)-1]
		}
		return s[i] + (r-float64(i))*(s[i+1]-s[i])
	}
	return q(lo), q(hi), nil
}

// autoIndex returns the slice along vw.normal with the most voxels > 0 in
// lv, or the middle slice when lv is nil or empty.
func autoIndex(vw view, shape [3]int, lv *volume.Volume) int {
	n := shape[vw.normal]
	best, bestCount := n/2, 0
	if lv == nil {
		return best
	}
	counts := make([]int, n)
	for z := 0; z < shape[2]; z++ {
		for y := 0; y < shape[1]; y++ {
			for x := 0; x < shape[0]; x++ {
				if lv.Data[x+shape[0]*(y+shape[1]*z)] > 0.5 {
					counts[[3]int{x, y, z}[vw.normal]]++
				}
			}
		}
	}
	for k, c := range counts {
		if c > bestCount || (c == bestCount && c > 0 && abs(k-n/2) < abs(best-n/2)) {
			best, bestCount = k, c
		}
	}
	return best
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// panelGeometry returns the raster size in pixels of a view of shape and
// spacing whose longer side is size pixels, keeping the physical aspect.
func panelGeometry(vw view, shape [3]int, spacing [3]float64, size int) (w, h int, pxPerMM float64) {
	wmm := float64(shape[vw.h]) * spacing[vw.h]
	hmm := float64(shape[vw.v]) * spacing[vw.v]
	pxPerMM = float64(size) / math.Max(wmm, hmm)
	w = max(1, int(math.Round(wmm*pxPerMM)))
	h = max(1, int(math.Round(hmm*pxPerMM)))
	return w, h, pxPerMM
}

// grey renders slice k of the channel into a w x h grey raster.
func (p *prepared) grey(vw view, k, w, h int, smooth bool) *image.RGBA {
	shape := p.v.Shape
	nh, nv := shape[vw.h], shape[vw.v]
	at := func(col, row int) float64 {
		x, y, z := vw.voxel(shape, k, col, row)
		return float64(p.ch[x+shape[0]*(y+shape[1]*z)])
	}
	scale := 255 / (p.hi - p.lo)
	if !(p.hi > p.lo) {
		scale = 0
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for py := 0; py < h; py++ {
		for pxl := 0; pxl < w; pxl++ {
			var f float64
			u := (float64(pxl)+0.5)/float64(w)*float64(nh) - 0.5
			t := (float64(py)+0.5)/float64(h)*float64(nv) - 0.5
			if smooth {
				c0, r0 := clampi(int(math.Floor(u)), nh), clampi(int(math.Floor(t)), nv)
				c1, r1 := clampi(c0+1, nh), clampi(r0+1, nv)
				fu, ft := clampf(u-float64(c0)), clampf(t-float64(r0))
				f = (1-ft)*((1-fu)*at(c0, r0)+fu*at(c1, r0)) + ft*((1-fu)*at(c0, r1)+fu*at(c1, r1))
			} else {
				f = at(clampi(int(math.Round(u)), nh), clampi(int(math.Round(t)), nv))
			}
			g := 128.0
			if scale > 0 {
				g = (f - p.lo) * scale
			}
			if math.IsNaN(g) {
				g = 0
			}
			gb := uint8(math.Round(math.Max(0, math.Min(255, g))))
			o := img.PixOffset(pxl, py)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = gb, gb, gb, 255
		}
	}
	return img
}

func clampi(i, n int) int { return max(0, min(n-1, i)) }
func clampf(f float64) float64 {
	return math.Max(0, math.Min(1, f))
}

// labelRaster returns the nearest-neighbour labels of slice k at w x h.
func labelRaster(lv *volume.Volume, vw view, k, w, h int) []int {
	shape := lv.Shape
	nh, nv := shape[vw.h], shape[vw.v]
	out := make([]int, w*h)
	for py := 0; py < h; py++ {
		row := clampi(int(math.Round((float64(py)+0.5)/float64(h)*float64(nv)-0.5)), nv)
		for pxl := 0; pxl < w; pxl++ {
			col := clampi(int(math.Round((float64(pxl)+0.5)/float64(w)*float64(nh)-0.5)), nh)
			x, y, z := vw.voxel(shape, k, col, row)
			out[pxl+w*py] = int(math.Round(float64(lv.Data[x+shape[0]*(y+shape[1]*z)])))
		}
	}
	return out
}

// overlay blends labels into img: fill with opacity alpha and, when
// contours is true, an opaque outline of thickness t pixels inside each
// labelled region. With t >= 2 the outermost outline pixel is drawn in
// the darkened colour, so that light colours (yellow on white) keep a
// visible edge in grey-scale print.
func overlay(img *image.RGBA, lab []int, alpha float64, contours bool, t int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for py := 0; py < h; py++ {
		for pxl := 0; pxl < w; pxl++ {
			l := lab[pxl+w*py]
			if l <= 0 {
				continue
			}
			c := LabelColor(l)
			a := alpha
			if contours && onEdge(lab, w, h, pxl, py, t) {
				a = 1
				if t >= 2 && onEdge(lab, w, h, pxl, py, 1) {
					c = darken(c)
				}
			}
			o := img.PixOffset(pxl, py)
			img.Pix[o] = blend(img.Pix[o], c.R, a)
			img.Pix[o+1] = blend(img.Pix[o+1], c.G, a)
			img.Pix[o+2] = blend(img.Pix[o+2], c.B, a)
		}
	}
}

// darken returns c at 45% brightness.
func darken(c color.NRGBA) color.NRGBA {
	return color.NRGBA{uint8(float64(c.R) * 0.45), uint8(float64(c.G) * 0.45), uint8(float64(c.B) * 0.45), c.A}
}

func blend(bg, fg uint8, a float64) uint8 {
	return uint8(math.Round((1-a)*float64(bg) + a*float64(fg)))
}

// onEdge reports whether a pixel within Chebyshev distance t of (x, y)
// has another label (the raster border does not count as an edge).
func onEdge(lab []int, w, h, x, y, t int) bool {
	l := lab[x+w*y]
	for dy := -t; dy <= t; dy++ {
		for dx := -t; dx <= t; dx++ {
			xx, yy := x+dx, y+dy
			if xx >= 0 && yy >= 0 && xx < w && yy < h && lab[xx+w*yy] != l {
				return true
			}
		}
	}
	return false
}

// panel is one image of a Slice figure.
type panel struct {
	title  string
	labels *volume.Volume
}

// Slice draws one slice of v (see SliceOptions) and returns the encoded
// figure: one or more panels with orientation letters at the image edges,
// a caption with plane, slice, spacing and window, a scale bar, and a
// legend naming the labels when label maps are given.
func Slice(v *volume.Volume, opts SliceOptions) ([]byte, error) {
	p, err := prepare(v, &opts)
	if err != nil {
		return nil, err
	}
	return p.render(opts)
}

func (p *prepared) render(opts SliceOptions) ([]byte, error) {
	v := p.v
	vw, err := newView(v.Affine, opts.Plane)
	if err != nil {
		return nil, err
	}
	k := opts.Index
	if k < 0 {
		lv := opts.Labels
		if lv == nil {
			lv = opts.Prediction
		}
		k = autoIndex(vw, v.Shape, lv)
	}
	if k >= v.Shape[vw.normal] {
		return nil, fmt.Errorf("plot: slice %d out of range: %s view has %d slices", k, opts.Plane, v.Shape[vw.normal])
	}
	size := opts.PanelSize
	if size == 0 {
		size = 320
	}
	if size < 16 || size > 4096 {
		return nil, fmt.Errorf("plot: PanelSize %d outside [16, 4096]", size)
	}
	alpha := opts.Alpha
	if alpha == 0 {
		alpha = 0.4
	}

	var panels []panel
	switch {
	case opts.Prediction != nil:
		panels = append(panels, panel{title: "Image"})
		if opts.Labels != nil {
			panels = append(panels, panel{"Ground truth", opts.Labels})
		}
		panels = append(panels, panel{"Prediction", opts.Prediction})
	case opts.Labels != nil && opts.SideBySide:
		panels = []panel{{title: "Image"}, {"Labels", opts.Labels}}
	default:
		panels = []panel{{labels: opts.Labels}}
	}
	hasLabels := opts.Labels != nil || opts.Prediction != nil

	w, h, pxPerMM := panelGeometry(vw, v.Shape, v.Spacing, size)
	pxPerVoxel := math.Min(float64(w)/float64(v.Shape[vw.h]), float64(h)/float64(v.Shape[vw.v]))
	thick := 1 // outline thickness: 2-3 px (dark edge + colour) unless voxels are tiny
	if pxPerVoxel >= 3 {
		thick = max(2, min(3, int(math.Round(pxPerVoxel/4))))
	}

	titleSty, panelSty, letterSty, capSty := style(14, true), style(12, false), style(12, true), style(10, false)
	const margin, gap = 10.0, 14.0
	letterM := textHeight(letterSty) + 4
	titleH := 0.0
	if opts.Title != "" {
		titleH = textHeight(titleSty) + 8
	}
	panelTitleH := 0.0
	if len(panels) > 1 {
		panelTitleH = textHeight(panelSty) + 2
	}
	panelW := float64(w) + 2*letterM
	panelH := panelTitleH + float64(h) + 2*letterM

	leg := gplot.NewLegend()
	leg.TextStyle = style(11, false)
	leg.Top, leg.Left = true, true
	leg.ThumbnailWidth = px(22)
	leg.Padding = px(4)
	showLegend := hasLabels && !opts.NoLegend && len(p.present) > 0
	legW, legH := 0.0, 0.0
	if showLegend {
		for _, l := range p.present {
			name := opts.LabelNames[l]
			if name == "" {
				name = fmt.Sprintf("label %d", l)
			}
			leg.Add(fmt.Sprintf("%d %s", l, name), swatch{LabelColor(l), alpha, !opts.NoContours})
		}
		r := leg.Rectangle(draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: 1000, Y: 1000}}})
		legW = float64(r.Size().X)*dpi/72 + gap
		legH = float64(r.Size().Y) * dpi / 72
	}
	caption := p.caption(vw, k, opts)
	capH := textHeight(capSty) + 10

	figW := 2*margin + float64(len(panels))*panelW + float64(len(panels)-1)*gap + legW
	figW = math.Max(figW, 2*margin+textWidth(capSty, caption)+90)
	figW = math.Max(figW, 2*margin+textWidth(titleSty, opts.Title))
	figH := 2*margin + titleH + math.Max(panelH, legH+panelTitleH+letterM) + capH
	fig, err := newFigure(int(math.Ceil(figW)), int(math.Ceil(figH)), opts.Format)
	if err != nil {
		return nil, err
	}
	if opts.Title != "" {
		fig.text(margin, margin, opts.Title, titleSty, text.XLeft, text.YTop)
	}
	top := margin + titleH
	base := p.grey(vw, k, w, h, opts.Smooth)
	for i, pn := range panels {
		x0 := margin + float64(i)*(panelW+gap)
		if pn.title != "" {
			fig.text(x0+panelW/2, top, pn.title, panelSty, text.XCenter, text.YTop)
		}
		ix, iy := x0+letterM, top+panelTitleH+letterM
		img := base
		if pn.labels != nil {
			img = image.NewRGBA(base.Rect)
			copy(img.Pix, base.Pix)
			overlay(img, labelRaster(pn.labels, vw, k, w, h), alpha, !opts.NoContours, thick)
		}
		fig.image(math.Round(ix), math.Round(iy), img)
		cx, cy := ix+float64(w)/2, iy+float64(h)/2
		fig.text(ix-letterM/2, cy, vw.left, letterSty, text.XCenter, text.YCenter)
		fig.text(ix+float64(w)+letterM/2, cy, vw.right, letterSty, text.XCenter, text.YCenter)
		fig.text(cx, iy-2, vw.top, letterSty, text.XCenter, text.YBottom)
		fig.text(cx, iy+float64(h)+2, vw.bottom, letterSty, text.XCenter, text.YTop)
	}
	if showLegend {
		lx := margin + float64(len(panels))*(panelW+gap)
		ly := top + panelTitleH + letterM
		c := draw.Canvas{Canvas: fig.c.Canvas, Rectangle: fig.rect(lx, ly, legW, legH)}
		leg.Draw(c)
	}
	// Caption and a scale bar of a round length near a quarter image width.
	cy := top + math.Max(panelH, legH+panelTitleH+letterM) + 6
	bar := niceLength(float64(w) / pxPerMM / 4)
	barPx := bar * pxPerMM
	fig.line(margin, cy+6, margin+barPx, cy+6, 3, color.Black)
	barText := fmt.Sprintf("%g mm", bar)
	fig.text(margin+barPx+6, cy+6, barText, capSty, text.XLeft, text.YCenter)
	fig.text(margin+barPx+14+textWidth(capSty, barText), cy+6, caption, capSty, text.XLeft, text.YCenter)
	return fig.encode()
}

// caption describes the slice shown.
func (p *prepared) caption(vw view, k int, opts SliceOptions) string {
	axes := "xyz"
	sp := p.v.Spacing
	var b strings.Builder
	fmt.Fprintf(&b, "%s, slice %c=%d of %d, %.2f×%.2f mm pixels, window %.4g–%.4g",
		vw.plane, axes[vw.normal], k, p.v.Shape[vw.normal], sp[vw.h], sp[vw.v], p.lo, p.hi)
	if !math.IsNaN(p.pLo) {
		fmt.Fprintf(&b, " (p%g–p%g)", p.pLo, p.pHi)
	}
	if p.v.Channels > 1 {
		fmt.Fprintf(&b, ", channel %d", opts.Channel)
	}
	if vw.obliqueDeg > 1 {
		fmt.Fprintf(&b, ", oblique %.0f° (nearest axes)", vw.obliqueDeg)
	}
	return b.String()
}

// niceLength returns the largest of 1, 2, 5 x 10^k not above x (at least 1e-3).
func niceLength(x float64) float64 {
	if !(x > 1e-3) {
		return 1e-3
	}
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{5, 2, 1} {
		if m*e <= x {
			return m * e
		}
	}
	return e
}

// swatch is the legend thumbnail of a label: the fill over mid grey and,
// when outline is set, the opaque contour.
type swatch struct {
	c       color.NRGBA
	alpha   float64
	outline bool
}

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	g := color.NRGBA{128, 128, 128, 255}
	fill := color.NRGBA{blend(128, s.c.R, s.alpha), blend(128, s.c.G, s.alpha), blend(128, s.c.B, s.alpha), 255}
	pts := []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}}
	c.FillPolygon(g, pts)
	c.FillPolygon(fill, pts)
	if s.outline {
		ring := func(col color.Color, inset, lw vg.Length) {
			d := inset + lw/2
			c.StrokeLines(draw.LineStyle{Color: col, Width: lw}, []vg.Point{
				{X: r.Min.X + d, Y: r.Min.Y + d}, {X: r.Max.X - d, Y: r.Min.Y + d},
				{X: r.Max.X - d, Y: r.Max.Y - d}, {X: r.Min.X + d, Y: r.Max.Y - d},
				{X: r.Min.X + d, Y: r.Min.Y + d}})
		}
		ring(darken(s.c), 0, px(1))
		ring(s.c, px(1), px(2))
	}
}
