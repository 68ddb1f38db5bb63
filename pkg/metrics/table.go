package metrics

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/msdkit/msdkit/pkg/atomicfile"
)

// Float is a float64 that encodes NaN and ±Inf in JSON as null (JSON has
// no NaN); LabelScore's voxel counts tell which case a null is.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(v, 'g', -1, 64)), nil
}

// UnmarshalJSON implements json.Unmarshaler; null reads as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = Float(v)
	return err
}

// String formats like CSV cells: "nan", "inf" or the shortest decimal.
func (f Float) String() string {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// LabelMean is the mean of one label's scores over the cases where the
// score is finite; NDice and NHD95 count those cases.
type LabelMean struct {
	Label int    `json:"label"`
	Name  string `json:"name,omitempty"`
	Dice  Float  `json:"dice"`
	HD95  Float  `json:"hd95"`
	NDice int    `json:"n_dice"`
	NHD95 int    `json:"n_hd95"`
}

// Table holds per-case scores and their per-label means.
type Table struct {
	Cases []CaseResult `json:"cases"`
	Mean  []LabelMean  `json:"mean"`
	// MeanDice is the mean over labels of the label means (nnU-Net's
	// foreground mean), over labels with a finite mean.
	MeanDice Float `json:"mean_dice"`
}

// Summarize computes the per-label means of the cases.
func Summarize(cases []CaseResult) Table {
	t := Table{Cases: cases}
	type acc struct {
		name     string
		dice, hd float64
		nd, nh   int
	}
	accs := map[int]*acc{}
	for _, c := range cases {
		for _, s := range c.Labels {
			a := accs[s.Label]
			if a == nil {
				a = &acc{name: s.Name}
				accs[s.Label] = a
			}
			if d := float64(s.Dice); !math.IsNaN(d) {
				a.dice += d
				a.nd++
			}
			if h := float64(s.HD95); !math.IsNaN(h) && !math.IsInf(h, 0) {
				a.hd += h
				a.nh++
			}
		}
	}
	var labels []int
	for l := range accs {
		labels = append(labels, l)
	}
	sort.Ints(labels)
	sum, n := 0.0, 0
	for _, l := range labels {
		a := accs[l]
		m := LabelMean{Label: l, Name: a.name, Dice: Float(a.dice / float64(a.nd)), HD95: Float(a.hd / float64(a.nh)), NDice: a.nd, NHD95: a.nh}
		if a.nd == 0 {
			m.Dice = Float(math.NaN())
		} else {
			sum += float64(m.Dice)
			n++
		}
		if a.nh == 0 {
			m.HD95 = Float(math.NaN())
		}
		t.Mean = append(t.Mean, m)
	}
	t.MeanDice = Float(math.NaN())
	if n > 0 {
		t.MeanDice = Float(sum / float64(n))
	}
	return t
}

// WriteCSV writes one row per case and label (case,label,name,dice,hd95,
// ref_voxels,pred_voxels), then one row per label mean with case "mean"
// (the voxel columns then hold the numbers of cases averaged).
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"case", "label", "name", "dice", "hd95", "ref_voxels", "pred_voxels"})
	for _, c := range t.Cases {
		for _, s := range c.Labels {
			cw.Write([]string{c.ID, strconv.Itoa(s.Label), s.Name, s.Dice.String(), s.HD95.String(), strconv.Itoa(s.RefVoxels), strconv.Itoa(s.PredVoxels)})
		}
	}
	for _, m := range t.Mean {
		cw.Write([]string{"mean", strconv.Itoa(m.Label), m.Name, m.Dice.String(), m.HD95.String(), strconv.Itoa(m.NDice), strconv.Itoa(m.NHD95)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the table as indented JSON (NaN and Inf as null).
func (t *Table) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(t)
}

// Save writes the table to path as CSV (.csv) or JSON (.json) through a
// temporary file and a rename.
func (t *Table) Save(path string) error {
	var write func(io.Writer) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		write = t.WriteCSV
	case ".json":
		write = t.WriteJSON
	default:
		return fmt.Errorf("metrics: %s: unknown table format (want .csv or .json)", path)
	}
	if err := atomicfile.Write(path, false, write); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Markdown renders the means and, when perCase is set, every case as
// Markdown tables (for gonbui.DisplayMarkdown).
func (t *Table) Markdown(perCase bool) string {
	var b strings.Builder
	name := func(l int, n string) string {
		if n == "" {
			return strconv.Itoa(l)
		}
		return fmt.Sprintf("%d %s", l, n)
	}
	b.WriteString("| label | mean Dice | cases | mean HD95 (mm) | cases |\n|---|---|---|---|---|\n")
	for _, m := range t.Mean {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d |\n", name(m.Label, m.Name), m.Dice, m.NDice, m.HD95, m.NHD95)
	}
	fmt.Fprintf(&b, "\nMean foreground Dice: %s\n", t.MeanDice)
	if perCase {
		b.WriteString("\n| case | label | Dice | HD95 (mm) | ref voxels | pred voxels |\n|---|---|---|---|---|---|\n")
		for _, c := range t.Cases {
			for _, s := range c.Labels {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d |\n", c.ID, name(s.Label, s.Name), s.Dice, s.HD95, s.RefVoxels, s.PredVoxels)
			}
		}
	}
	return b.String()
}
