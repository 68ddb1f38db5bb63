package msd

import (
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
)

// PlanRow is one task of a download plan.
type PlanRow struct {
	Status
	// Need is the disk space still needed in bytes: the rest of the archive
	// plus its extraction (about the archive size, the volumes inside are
	// already compressed); 0 when the set is present.
	Need int64
}

// Plan compares what the chosen tasks need with the free space of the root.
type Plan struct {
	Root string
	Rows []PlanRow
	// Need is the sum of the rows' Need; Free the space available on Root's
	// file system (-1: unknown).
	Need, Free int64
}

// PlanDownloads checks the given tasks (names as accepted by Lookup) under root.
func PlanDownloads(root string, names []string) (*Plan, error) {
	p := &Plan{Root: root, Free: FreeSpace(root)}
	for _, n := range names {
		t, err := Lookup(n)
		if err != nil {
			return nil, err
		}
		r := PlanRow{Status: Check(root, t)}
		if r.State == Missing || r.State == Invalid {
			if r.ArchiveBytes > 0 {
				r.Need = t.Size
			} else {
				r.Need = max(0, t.Size-r.PartBytes) + t.Size
			}
		}
		p.Need += r.Need
		p.Rows = append(p.Rows, r)
	}
	return p, nil
}

// Enough reports whether the free space covers the need (true when unknown).
func (p *Plan) Enough() bool { return p.Free < 0 || p.Need <= p.Free }

func sizeString(t Task) string {
	if t.SizeApprox {
		return "~" + HumanBytes(t.Size)
	}
	return HumanBytes(t.Size)
}

func (r PlanRow) stateString() string {
	s := r.State.String()
	switch {
	case r.ArchiveBytes > 0 && r.State != Complete:
		s += ", archive downloaded"
	case r.PartBytes > 0 && r.State != Complete:
		s += fmt.Sprintf(", %s partly downloaded", HumanBytes(r.PartBytes))
	}
	return s
}

func (p *Plan) summaryLine() string {
	s := fmt.Sprintf("disk needed %s, free on %s: %s", HumanBytes(p.Need), p.Root, HumanBytes(p.Free))
	if !p.Enough() {
		s += " - NOT ENOUGH SPACE"
	}
	return s
}

// Text renders the plan as a fixed-width table.
func (p *Plan) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %-5s %-4s %-10s %-10s %s\n", "task", "kind", "dims", "archive", "need", "state")
	for _, r := range p.Rows {
		fmt.Fprintf(&b, "%-22s %-5s %-4s %-10s %-10s %s\n", r.Task.Name, r.Task.Kind, fmt.Sprintf("%dD", r.Task.Dims),
			sizeString(r.Task), HumanBytes(r.Need), r.stateString())
	}
	b.WriteString(p.summaryLine() + "\n")
	return b.String()
}

// HTML renders the plan as an HTML table.
func (p *Plan) HTML() string {
	var b strings.Builder
	b.WriteString(`<table class="msd"><tr><th>task</th><th>description</th><th>kind</th><th>dims</th><th>archive</th><th>need</th><th>state</th></tr>`)
	for _, r := range p.Rows {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%dD</td><td>%s</td><td>%s</td><td>%s</td></tr>",
			html.EscapeString(r.Task.Name), html.EscapeString(r.Task.Description), r.Task.Kind, r.Task.Dims,
			sizeString(r.Task), HumanBytes(r.Need), html.EscapeString(r.stateString()))
	}
	fmt.Fprintf(&b, "</table><p>%s</p>", html.EscapeString(p.summaryLine()))
	return b.String()
}

// Download fetches the named tasks into root with a default Downloader, one
// after the other, after checking the free space. Under MSD_FAST=1 nothing is
// downloaded: it says so on stdout and returns nil.
func Download(ctx context.Context, root string, names ...string) error {
	return DownloadTo(ctx, os.Stdout, NewDownloader(root), names...)
}

// DownloadTo is Download with a given Downloader and message writer.
func DownloadTo(ctx context.Context, w io.Writer, d *Downloader, names ...string) error {
	if FastMode() {
		fmt.Fprintf(w, "MSD_FAST=1: downloading skipped (%s); using the sets present under %s\n", strings.Join(names, ", "), d.Root)
		return nil
	}
	plan, err := PlanDownloads(d.Root, names)
	if err != nil {
		return err
	}
	if !plan.Enough() {
		return fmt.Errorf("msd: not enough disk space under %s: need %s, %s free", d.Root, HumanBytes(plan.Need), HumanBytes(plan.Free))
	}
	if d.Log == nil {
		d.Log = w
	}
	for _, r := range plan.Rows {
		if _, err := d.Fetch(ctx, r.Task); err != nil {
			return err
		}
	}
	return nil
}
