package msd

import (
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
)

type progressMode int

const (
	modeQuiet progressMode = iota
	modeLines
	modeTTY
	modeNotebook
)

// progress reports the advance of a long byte-counting job: a redrawn bar on
// a terminal, periodic lines on other writers, a live HTML block under GoNB.
// It is an io.Writer counting the bytes written to it, for io.TeeReader.
type progress struct {
	mu        sync.Mutex
	w         io.Writer
	mode      progressMode
	label     string
	total     int64 // -1 when unknown
	done      int64
	startDone int64
	start     time.Time
	last      time.Time
	interval  time.Duration
	htmlID    string
	count     func(int64) string // formats amounts (default HumanBytes)
}

// newProgress starts a report on w (nil: quiet). interval is the time between
// lines in line mode (0: 10 s).
func newProgress(w io.Writer, label string, total, done int64, interval time.Duration) *progress {
	p := &progress{w: w, label: label, total: total, done: done, startDone: done, start: time.Now(), interval: interval, count: HumanBytes}
	switch {
	case w == nil:
		p.mode = modeQuiet
	case gonbui.IsNotebook:
		p.mode = modeNotebook
		p.htmlID = "msd_progress_" + gonbui.UniqueID()
		p.interval = 500 * time.Millisecond
	case isTerminal(w):
		p.mode = modeTTY
		p.interval = 200 * time.Millisecond
	default:
		p.mode = modeLines
		if p.interval <= 0 {
			p.interval = 10 * time.Second
		}
	}
	if p.mode != modeQuiet {
		p.draw(false)
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Write counts len(b) bytes as done.
func (p *progress) Write(b []byte) (int, error) {
	p.Add(int64(len(b)))
	return len(b), nil
}

// Add counts n more bytes as done and redraws when due.
func (p *progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.mode == modeQuiet {
		return
	}
	if time.Since(p.last) >= p.interval {
		p.draw(false)
	}
}

// Finish draws the final state followed by note (may be empty).
func (p *progress) Finish(note string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == modeQuiet {
		return
	}
	p.draw(true, note)
	if p.mode == modeNotebook {
		gonbui.Sync()
	}
}

// draw renders the current state; the caller holds p.mu.
func (p *progress) draw(final bool, note ...string) {
	p.last = time.Now()
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done-p.startDone) / elapsed
	}
	frac := -1.0
	if p.total > 0 {
		frac = min(1, float64(p.done)/float64(p.total))
	}
	var stats strings.Builder
	if frac >= 0 {
		fmt.Fprintf(&stats, "%5.1f%% %s / %s", 100*frac, p.count(p.done), p.count(p.total))
	} else {
		fmt.Fprintf(&stats, "%s", p.count(p.done))
	}
	if rate > 0 {
		fmt.Fprintf(&stats, ", %s/s", p.count(int64(rate)))
		if frac >= 0 && !final {
			eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second)
			fmt.Fprintf(&stats, ", ETA %s", eta)
		}
	}
	if final {
		fmt.Fprintf(&stats, ", %s", time.Since(p.start).Round(100*time.Millisecond))
	}
	if len(note) > 0 && note[0] != "" {
		fmt.Fprintf(&stats, " - %s", note[0])
	}
	switch p.mode {
	case modeNotebook:
		bar := ""
		if frac >= 0 {
			bar = fmt.Sprintf(`<progress value="%d" max="1000" style="width:300px"></progress> `, int(1000*frac))
		}
		gonbui.UpdateHTML(p.htmlID, fmt.Sprintf(`<div style="font-family:monospace">%s: %s%s</div>`,
			html.EscapeString(p.label), bar, html.EscapeString(stats.String())))
	case modeTTY:
		const width = 30
		bar := ""
		if frac >= 0 {
			n := int(frac * width)
			bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] "
		}
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(p.w, "\r\033[K%s: %s%s%s", p.label, bar, stats.String(), end)
	case modeLines:
		fmt.Fprintf(p.w, "%s: %s\n", p.label, stats.String())
	}
}
