package msd

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/msdkit/msdkit/pkg/nifti"
	"github.com/msdkit/msdkit/pkg/volume"
)

// CaseInfo describes one case as read from its files.
type CaseInfo struct {
	ID       string
	Shape    [3]int
	Spacing  [3]float64
	Channels int
	// ImageType and LabelType are the stored NIfTI data types.
	ImageType, LabelType string
	// LabelVoxels counts the voxels of each label value.
	LabelVoxels []int64
	// Problem is a geometry or label error found in the case, or "".
	Problem string
}

// SetSummary describes a set: one CaseInfo per case plus aggregates.
type SetSummary struct {
	Dir        string
	Task       Task
	Modalities []string
	Labels     []string
	// Cases holds the cases read (all, or the first MaxCases).
	Cases []CaseInfo
	// Listed is the number of cases in dataset.json.
	Listed int
	// Min, median and max shape and spacing per axis over the cases.
	MinShape, MedianShape, MaxShape       [3]int
	MinSpacing, MedianSpacing, MaxSpacing [3]float64
	// LabelVoxels sums the cases' label counts.
	LabelVoxels []int64
	// ImageTypes and LabelTypes count the stored data types.
	ImageTypes, LabelTypes map[string]int
	// Problems counts the cases with a Problem.
	Problems int
}

// Summarize reads the image headers and the label voxels of the set's cases
// (the first maxCases when maxCases > 0), with progress on w (nil: quiet).
// Geometry and label problems are recorded per case, not returned as errors;
// unreadable files are errors.
func Summarize(ds *Dataset, maxCases int, w io.Writer) (*SetSummary, error) {
	cases := ds.Cases
	if maxCases > 0 && len(cases) > maxCases {
		cases = cases[:maxCases]
	}
	s := &SetSummary{Dir: ds.Dir, Task: ds.Task, Modalities: ds.Modalities, Labels: ds.Labels, Listed: len(ds.Cases),
		LabelVoxels: make([]int64, len(ds.Labels)), ImageTypes: map[string]int{}, LabelTypes: map[string]int{}}
	p := newProgress(w, ds.Task.Name+" summary", int64(len(cases)), 0, 0)
	p.count = func(n int64) string { return fmt.Sprint(n) }
	for _, c := range cases {
		info, err := caseInfo(c)
		if err != nil {
			p.Finish("failed")
			return nil, err
		}
		s.Cases = append(s.Cases, info)
		s.ImageTypes[info.ImageType]++
		s.LabelTypes[info.LabelType]++
		for i, n := range info.LabelVoxels {
			if i >= len(s.LabelVoxels) {
				s.LabelVoxels = append(s.LabelVoxels, 0)
			}
			s.LabelVoxels[i] += n
		}
		if info.Problem != "" {
			s.Problems++
		}
		p.Add(1)
	}
	p.Finish("")
	for a := range 3 {
		sh := make([]int, len(s.Cases))
		sp := make([]float64, len(s.Cases))
		for i, c := range s.Cases {
			sh[i], sp[i] = c.Shape[a], c.Spacing[a]
		}
		slices.Sort(sh)
		slices.Sort(sp)
		if n := len(sh); n > 0 {
			s.MinShape[a], s.MedianShape[a], s.MaxShape[a] = sh[0], sh[n/2], sh[n-1]
			s.MinSpacing[a], s.MedianSpacing[a], s.MaxSpacing[a] = sp[0], sp[n/2], sp[n-1]
		}
	}
	return s, nil
}

// caseInfo reads the image header and the label of one case.
func caseInfo(c Case) (CaseInfo, error) {
	info := CaseInfo{ID: c.ID}
	h, err := nifti.ReadHeader(c.Image)
	if err != nil {
		return info, fmt.Errorf("msd: case %s: %w", c.ID, err)
	}
	ig, ch, err := headerGeometry(h, c.Image)
	if err != nil {
		return info, err
	}
	info.Shape, info.Spacing, info.Channels, info.ImageType = ig.shape, ig.spacing, ch, h.Datatype.String()
	lbl, err := volume.Read(c.Label)
	if err != nil {
		return info, fmt.Errorf("msd: case %s: %w", c.ID, err)
	}
	info.LabelType = labelType(c.Label)
	var problems []string
	if err := compareGeometry(c.Image, ig, c.Label, volumeGeometry(lbl)); err != nil {
		problems = append(problems, err.Error())
	}
	if c.Channels > 0 && ch != c.Channels {
		problems = append(problems, fmt.Sprintf("image %s has %d channels, dataset.json declares %d modalities", c.Image, ch, c.Channels))
	}
	if lbl.Channels != 1 {
		problems = append(problems, fmt.Sprintf("label %s has %d channels, want 1", c.Label, lbl.Channels))
	} else {
		counts, err := countLabels(lbl, c.NumClasses, c.Label)
		if err != nil {
			problems = append(problems, err.Error())
		}
		info.LabelVoxels = counts
	}
	info.Problem = strings.Join(problems, "; ")
	return info, nil
}

// labelType is the stored data type of a file ("?" when unreadable).
func labelType(file string) string {
	h, err := nifti.ReadHeader(file)
	if err != nil {
		return "?"
	}
	return h.Datatype.String()
}

// headerGeometry returns the spatial geometry and channel count of a header
// as volume.Read sees them: axes beyond the third are channels.
func headerGeometry(h *nifti.Header, file string) (geometry, int, error) {
	var g geometry
	shape := h.Shape()
	if len(shape) < 1 || len(shape) > 7 {
		return g, 0, fmt.Errorf("msd: %s: %d dimensions", file, len(shape))
	}
	ch := 1
	for i, n := range shape {
		if i < 3 {
			g.shape[i] = n
		} else {
			ch *= n
		}
	}
	for i := len(shape); i < 3; i++ {
		g.shape[i] = 1
	}
	sp := h.Spacing()
	for i := range 3 {
		g.spacing[i] = 1
		if i < len(sp) {
			g.spacing[i] = sp[i]
		}
	}
	g.affine = h.Affine()
	return g, ch, nil
}

// SummarizeRoot summarizes every set found under root (see FindSets).
func SummarizeRoot(root string, maxCases int, w io.Writer) ([]*SetSummary, error) {
	names, err := FindSets(root)
	if err != nil {
		return nil, err
	}
	var out []*SetSummary
	for _, n := range names {
		ds, err := Open(root, n)
		if err != nil {
			return nil, err
		}
		s, err := Summarize(ds, maxCases, w)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func fmtShape(s [3]int) string { return fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]) }

func fmtSpacing(s [3]float64) string { return fmt.Sprintf("%.3gx%.3gx%.3g", s[0], s[1], s[2]) }

func fmtTypes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// labelText lists "name n (p%)" per label.
func (s *SetSummary) labelText() []string {
	var total int64
	for _, n := range s.LabelVoxels {
		total += n
	}
	out := make([]string, len(s.LabelVoxels))
	for i, n := range s.LabelVoxels {
		name := fmt.Sprint(i)
		if i < len(s.Labels) {
			name = fmt.Sprintf("%d %s", i, s.Labels[i])
		}
		out[i] = fmt.Sprintf("%s: %d (%.2f%%)", name, n, 100*float64(n)/float64(max(total, 1)))
	}
	return out
}

func (s *SetSummary) casesString() string {
	if len(s.Cases) == s.Listed {
		return fmt.Sprint(s.Listed)
	}
	return fmt.Sprintf("%d of %d", len(s.Cases), s.Listed)
}

func (s *SetSummary) firstProblem() string {
	for _, c := range s.Cases {
		if c.Problem != "" {
			return c.Problem
		}
	}
	return ""
}

var summaryColumns = []string{"set", "cases", "channels", "kind", "shape min / median / max", "spacing mm min / median / max", "image types", "label types", "label voxels", "problems"}

func (s *SetSummary) row() []string {
	return []string{
		s.Task.Name, s.casesString(), fmt.Sprintf("%d (%s)", len(s.Modalities), strings.Join(s.Modalities, ", ")), s.Task.Kind.String(),
		fmtShape(s.MinShape) + " / " + fmtShape(s.MedianShape) + " / " + fmtShape(s.MaxShape),
		fmtSpacing(s.MinSpacing) + " / " + fmtSpacing(s.MedianSpacing) + " / " + fmtSpacing(s.MaxSpacing),
		fmtTypes(s.ImageTypes), fmtTypes(s.LabelTypes), strings.Join(s.labelText(), "; "), fmt.Sprint(s.Problems),
	}
}

// SummaryText renders summaries as text, one block per set.
func SummaryText(sums []*SetSummary) string {
	if len(sums) == 0 {
		return "no sets\n"
	}
	var b strings.Builder
	for _, s := range sums {
		for i, v := range s.row() {
			fmt.Fprintf(&b, "%-30s %s\n", summaryColumns[i], v)
		}
		if p := s.firstProblem(); p != "" {
			fmt.Fprintf(&b, "%-30s %s\n", "first problem", p)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// SummaryHTML renders summaries as an HTML table, one row per set.
func SummaryHTML(sums []*SetSummary) string {
	var b strings.Builder
	b.WriteString(`<table class="msd"><tr>`)
	for _, c := range summaryColumns {
		fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(c))
	}
	b.WriteString("</tr>")
	for _, s := range sums {
		b.WriteString("<tr>")
		for i, v := range s.row() {
			if i == 8 {
				parts := s.labelText()
				for j := range parts {
					parts[j] = html.EscapeString(parts[j])
				}
				fmt.Fprintf(&b, "<td>%s</td>", strings.Join(parts, "<br>"))
				continue
			}
			fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(v))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
	for _, s := range sums {
		if p := s.firstProblem(); p != "" {
			fmt.Fprintf(&b, "<p>%s: first problem: %s</p>", html.EscapeString(s.Task.Name), html.EscapeString(p))
		}
	}
	return b.String()
}
