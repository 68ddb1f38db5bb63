package transfer

import (
	"fmt"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/msdkit/msdkit/pkg/plans"
)

// PlansMarkdown compares the source and target plans side by side: what plans.Make chose for
// each set and what the experiment uses (shared topology, the target's spacing).
func (e *Experiment) PlansMarkdown() string {
	cols := []struct {
		name string
		p    *plans.Plans
	}{
		{e.Source.Name + " (nnU-Net rule)", e.SourcePlansNNUNet}, {e.Source.Name + " (used)", e.SourcePlans},
		{e.Target.Name + " (nnU-Net rule)", e.TargetPlansNNUNet}, {e.Target.Name + " (used)", e.TargetPlans},
	}
	rows := []struct {
		name string
		f    func(p *plans.Plans, c *plans.Config) string
	}{
		{"target spacing (mm, x,y,z)", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprintf("%.3g", p.TargetSpacing) }},
		{"median shape at that spacing", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(c.MedianShape) }},
		{"normalisation", func(p *plans.Plans, c *plans.Config) string {
			var s []string
			for _, n := range p.Normalization {
				s = append(s, fmt.Sprintf("%s (nonzero mask %v)", n.Scheme, n.UseMask))
			}
			return strings.Join(s, ", ")
		}},
		{"labels", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(p.Labels) }},
		{"patch (x,y,z)", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(c.PatchSize) }},
		{"batch", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(c.BatchSize) }},
		{"levels", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(c.Levels) }},
		{"filters per level", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(c.Filters) }},
		{"pooling per axis", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(c.PoolPerAxis) }},
		{"convs per level", func(p *plans.Plans, c *plans.Config) string { return fmt.Sprint(c.ConvPerStage) }},
	}
	var b strings.Builder
	b.WriteString("| |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c.name)
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |", r.name)
		for _, c := range cols {
			cfg := c.p.Configurations[plans.Config3D]
			if cfg == nil {
				b.WriteString(" - |")
				continue
			}
			fmt.Fprintf(&b, " %s |", r.f(c.p, cfg))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Show displays a Markdown table in a GoNB notebook, or prints it to stdout elsewhere.
func Show(md string) {
	if gonbui.IsNotebook {
		gonbui.DisplayMarkdown(md)
		gonbui.Sync()
		return
	}
	fmt.Println(md)
}
