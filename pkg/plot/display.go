package plot

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/msdkit/msdkit/pkg/atomicfile"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/dom"
	"github.com/janpfeifer/gonb/gonbui/widgets"

	"github.com/msdkit/msdkit/pkg/volume"
)

// PlotDirEnv names the environment variable of the folder where Display
// writes figures outside a notebook.
const PlotDirEnv = "MSD_PLOT_DIR"

var displayed atomic.Int64

// isSVG reports whether b is an SVG document rather than a PNG.
func isSVG(b []byte) bool {
	return !bytes.HasPrefix(b, []byte("\x89PNG")) && bytes.Contains(b[:min(len(b), 512)], []byte("<svg"))
}

// Display shows an encoded figure (PNG, or SVG) in the notebook output when
// run under GoNB. Elsewhere it writes the figure as plot-NNN.png (.svg) to
// the folder named by $MSD_PLOT_DIR when that is set, and does nothing
// otherwise.
func Display(fig []byte) error {
	if len(fig) == 0 {
		return fmt.Errorf("plot: Display: empty figure")
	}
	if gonbui.IsNotebook {
		if isSVG(fig) {
			gonbui.DisplaySVG(string(fig))
		} else {
			gonbui.DisplayPNG(fig)
		}
		return gonbui.Error()
	}
	dir := os.Getenv(PlotDirEnv)
	if dir == "" {
		return nil
	}
	ext := ".png"
	if isSVG(fig) {
		ext = ".svg"
	}
	return atomicfile.WriteFileNoSync(filepath.Join(dir, fmt.Sprintf("plot-%03d%s", displayed.Add(1), ext)), fig)
}

// ErrNotNotebook is returned by Viewer outside a GoNB notebook.
var ErrNotNotebook = errors.New("plot: Viewer needs a GoNB notebook (use Slice and Display elsewhere)")

// ViewerOptions configures Viewer.
type ViewerOptions struct {
	// Slice holds the drawing options; Plane and Index set the first view.
	Slice SliceOptions
	// Idle ends the interaction after this long without input, default 10 min.
	Idle time.Duration
	// StartTimeout is how long to wait for the browser to answer when the
	// widgets are created, default 5 s. Without an answer (a notebook run
	// headless, e.g. by nbconvert) Viewer shows the first view as a static
	// picture and returns.
	StartTimeout time.Duration
}

// Viewer shows an interactive slice viewer in a GoNB notebook: a plane
// selector, a slice slider and a Done button, redrawing the figure of
// Slice (labels overlaid when labels is not nil) on every change. It
// returns when Done is clicked or after opts.Idle without input, leaving the
// last picture in the cell output. Outside a notebook it returns
// ErrNotNotebook.
func Viewer(v, labels *volume.Volume, opts ViewerOptions) error {
	if !gonbui.IsNotebook {
		return ErrNotNotebook
	}
	so := opts.Slice
	if labels != nil {
		so.Labels = labels
	}
	p, err := prepare(v, &so)
	if err != nil {
		return err
	}
	if opts.Idle <= 0 {
		opts.Idle = 10 * time.Minute
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 5 * time.Second
	}
	vw, err := newView(v.Affine, so.Plane)
	if err != nil {
		return err
	}
	if so.Index < 0 || so.Index >= v.Shape[vw.normal] {
		so.Index = autoIndex(vw, v.Shape, so.Labels)
	}
	first, err := p.render(so)
	if err != nil {
		return err
	}

	rootID := dom.CreateTransientDiv()
	sliderDiv := "msdkit_viewer_slider_" + gonbui.UniqueID()
	infoID := "msdkit_viewer_info_" + gonbui.UniqueID()
	var (
		sel    *widgets.SelectBuilder
		slider *widgets.SliderBuilder
		done   *widgets.ButtonBuilder
	)
	ready := make(chan struct{})
	go func() {
		names := make([]string, len(Planes))
		for i, pl := range Planes {
			names[i] = pl.String()
		}
		sel = widgets.Select(names).SetDefault(int(so.Plane)).AppendTo(rootID).Done()
		dom.Append(rootID, fmt.Sprintf(`&nbsp;<span id=%q></span>&nbsp;<span id=%q style="font-family:monospace"></span>&nbsp;`, sliderDiv, infoID))
		slider = widgets.Slider(0, v.Shape[vw.normal]-1, so.Index).AppendTo(sliderDiv).Done()
		done = widgets.Button("Done").AppendTo(rootID).Done()
		close(ready)
	}()
	select {
	case <-ready:
	case <-time.After(opts.StartTimeout):
		// No browser is answering: leave a static picture.
		gonbui.DisplayPNG(first)
		return gonbui.Error()
	}

	imgID := "msdkit_viewer_img_" + gonbui.UniqueID()
	last := first
	show := func(fig []byte) {
		last = fig
		dom.SetInnerText(infoID, fmt.Sprintf("%s %d/%d", so.Plane, so.Index, v.Shape[vw.normal]-1))
		gonbui.UpdateHTML(imgID, `<img src="data:image/png;base64,`+base64.StdEncoding.EncodeToString(fig)+`"/>`)
	}
	show(first)
	selC, slC, doneC := sel.Listen().LatestOnly(), slider.Listen().LatestOnly(), done.Listen()
	defer func() { selC.Close(); slC.Close(); doneC.Close() }()
loop:
	for {
		select {
		case <-doneC.C:
			break loop
		case <-time.After(opts.Idle):
			break loop
		case i := <-selC.C:
			if i < 0 || i >= len(Planes) || Planes[i] == so.Plane {
				continue
			}
			so.Plane = Planes[i]
			if vw, err = newView(v.Affine, so.Plane); err != nil {
				return err
			}
			so.Index = autoIndex(vw, v.Shape, so.Labels)
			// The slider's range depends on the plane: replace it.
			slC.Close()
			dom.Remove(slider.HtmlId())
			slider = widgets.Slider(0, v.Shape[vw.normal]-1, so.Index).AppendTo(sliderDiv).Done()
			slC = slider.Listen().LatestOnly()
		case k := <-slC.C:
			if k < 0 || k >= v.Shape[vw.normal] || k == so.Index {
				continue
			}
			so.Index = k
		}
		fig, err := p.render(so)
		if err != nil {
			return err
		}
		show(fig)
	}
	// Replace the transient widgets and image by a saved picture.
	gonbui.UpdateHTML(imgID, "")
	dom.Remove(rootID)
	gonbui.DisplayPNG(last)
	return gonbui.Error()
}
