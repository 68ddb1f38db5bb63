package msd

import (
	"fmt"
	"os"

	"github.com/janpfeifer/gonb/gonbui"
)

// Display shows the plan as an HTML table in a GoNB notebook, else as text
// on stdout.
func (p *Plan) Display() { display(p.HTML(), p.Text()) }

// DisplaySummary shows set summaries as an HTML table in a GoNB notebook,
// else as text on stdout.
func DisplaySummary(sums []*SetSummary) {
	if len(sums) == 0 {
		display("<p>no MSD sets found</p>", "no MSD sets found\n")
		return
	}
	display(SummaryHTML(sums), SummaryText(sums))
}

const tableStyle = `<style>.msd td, .msd th {border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top}</style>`

func display(html, text string) {
	html = tableStyle + html
	if gonbui.IsNotebook {
		gonbui.DisplayHTML(html)
		gonbui.Sync() // the cell may end right after: flush the display
		return
	}
	fmt.Fprint(os.Stdout, text)
}
