package plot

import (
	"bytes"
	"fmt"
	"image"
	"image/color"

	xfont "golang.org/x/image/font"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// dpi is the resolution of PNG output: sizes in the options are pixels at
// this resolution, and 1 px = 72/dpi pt.
const dpi = 96

// Format selects the output encoding.
type Format int

const (
	// PNG output (the default).
	PNG Format = iota
	// SVG output; raster parts (slices) are embedded as PNG images.
	SVG
)

// px converts pixels to a vg length.
func px(n float64) vg.Length { return vg.Length(n * 72 / dpi) }

// figure is a canvas addressed in pixels from the top-left corner.
type figure struct {
	w, h int
	c    draw.Canvas
	out  vg.CanvasWriterTo
}

func newFigure(w, h int, f Format) (*figure, error) {
	if w < 1 || h < 1 || w > 1<<14 || h > 1<<14 {
		return nil, fmt.Errorf("plot: figure size %dx%d px out of range", w, h)
	}
	fg := &figure{w: w, h: h}
	switch f {
	case PNG:
		c := vgimg.NewWith(vgimg.UseWH(px(float64(w)), px(float64(h))), vgimg.UseDPI(dpi))
		fg.out = vgimg.PngCanvas{Canvas: c}
	case SVG:
		fg.out = vgsvg.New(px(float64(w)), px(float64(h)))
	default:
		return nil, fmt.Errorf("plot: unknown format %d", int(f))
	}
	fg.c = draw.New(fg.out)
	if f == SVG { // vgsvg starts transparent; make it white like PNGs
		fg.c.SetColor(color.White)
		fg.c.Fill(fg.c.Rectangle.Path())
	}
	return fg, nil
}

// pt converts top-left pixel coordinates to a vg point.
func (f *figure) pt(x, y float64) vg.Point { return vg.Point{X: px(x), Y: px(float64(f.h) - y)} }

// rect returns the vg rectangle of the pixel box with top-left (x, y).
func (f *figure) rect(x, y, w, h float64) vg.Rectangle {
	return vg.Rectangle{Min: f.pt(x, y+h), Max: f.pt(x+w, y)}
}

// text draws s with its anchor at (x, y); ax and ay are the text package's
// alignments (text.XLeft/XCenter/XRight, text.YTop/YCenter/YBottom).
func (f *figure) text(x, y float64, s string, sty draw.TextStyle, ax text.XAlignment, ay text.YAlignment) {
	sty.XAlign, sty.YAlign = ax, ay
	f.c.FillText(sty, f.pt(x, y), s)
}

func (f *figure) image(x, y float64, img image.Image) {
	b := img.Bounds()
	f.c.DrawImage(f.rect(x, y, float64(b.Dx()), float64(b.Dy())), img)
}

func (f *figure) line(x0, y0, x1, y1, width float64, c color.Color) {
	f.c.StrokeLine2(draw.LineStyle{Color: c, Width: px(width)}, px(x0), px(float64(f.h)-y0), px(x1), px(float64(f.h)-y1))
}

func (f *figure) encode() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := f.out.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: encoding figure: %w", err)
	}
	return buf.Bytes(), nil
}

// style returns a Liberation Sans text style of the given size in points.
func style(size float64, bold bool) draw.TextStyle {
	fnt := font.Font{Typeface: "Liberation", Variant: "Sans"}
	if bold {
		fnt.Weight = xfont.WeightBold
	}
	return text.Style{Color: color.Black, Font: font.From(fnt, font.Length(size)), Handler: gplot.DefaultTextHandler}
}

// textWidth and textHeight measure s in pixels.
func textWidth(sty draw.TextStyle, s string) float64 {
	return float64(sty.Width(s)) * dpi / 72
}

func textHeight(sty draw.TextStyle) float64 {
	e := sty.FontExtents()
	return float64(e.Height) * dpi / 72
}
