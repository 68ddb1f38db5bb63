package train

import (
	"encoding/base64"
	"fmt"
	"math"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/msdkit/msdkit/pkg/plot"
)

// CurvesFigure draws the training loss and the validation Dice of a history (PNG).
func CurvesFigure(history []Record) ([]byte, error) {
	var loss, dice plot.Series
	loss.Name, dice.Name = "batch loss", "validation mean Dice"
	for _, r := range history {
		loss.X = append(loss.X, float64(r.Step))
		loss.Y = append(loss.Y, r.Loss)
		if r.ValDice != nil {
			dice.X = append(dice.X, float64(r.Step))
			dice.Y = append(dice.Y, r.MeanDice)
		}
	}
	series := []plot.Series{loss}
	if len(dice.X) > 0 {
		series = append(series, dice)
	}
	return plot.Curves(series, plot.CurvesOptions{Title: "Training", XLabel: "step", YLabel: "loss / Dice"})
}

// LivePlot makes r redraw its loss and Dice curves in place in the notebook output every `every`
// steps and after each validation, when running under GoNB; elsewhere it does nothing. It
// chains any OnRecord callback already set.
func (r *Run) LivePlot(every int) {
	if !gonbui.IsNotebook {
		return
	}
	if every < 1 {
		every = 10
	}
	id := "msdkit-live-" + gonbui.UniqueID()
	gonbui.DisplayHTML(fmt.Sprintf(`<div id="%s">training...</div>`, id))
	prev := r.OnRecord
	r.OnRecord = func(rec Record, history []Record) {
		if prev != nil {
			prev(rec, history)
		}
		if rec.Step%every != 0 && rec.ValDice == nil {
			return
		}
		png, err := CurvesFigure(history)
		if err != nil {
			gonbui.UpdateHTML(id, fmt.Sprintf("<pre>plot: %v</pre>", err))
			return
		}
		last := fmt.Sprintf("step %d, loss %.4f", rec.Step, rec.Loss)
		if d := r.lastDice; d > 0 && !math.IsNaN(d) {
			last += fmt.Sprintf(", validation mean Dice %.4f", d)
		}
		gonbui.UpdateHTML(id, fmt.Sprintf(`<div>%s</div><img src="data:image/png;base64,%s">`,
			last, base64.StdEncoding.EncodeToString(png)))
	}
}
