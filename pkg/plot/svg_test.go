package plot

import (
	"bytes"
	"encoding/xml"
	"testing"
)

// TestSVG checks that SVG output is well-formed XML with an embedded slice.
func TestSVG(t *testing.T) {
	img, lab, _ := phantom([3]int{12, 12, 6}, [3]float64{1, 1, 2})
	s, err := Slice(img, SliceOptions{Index: Auto, Labels: lab, LabelNames: names, Format: SVG, PanelSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Curves([]Series{{Name: "loss", X: []float64{1, 2, 3}, Y: []float64{3, 2, 1}}}, CurvesOptions{Format: SVG})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"slice": s, "curves": c} {
		if !isSVG(b) {
			t.Errorf("%s: not recognised as SVG", name)
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: invalid XML: %v", name, err)
				}
				break
			}
		}
	}
	if !bytes.Contains(s, []byte("<image ")) {
		t.Error("slice SVG has no embedded raster")
	}
}
