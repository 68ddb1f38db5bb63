package plot_test

import (
	"log"

	"github.com/msdkit/msdkit/pkg/plot"
	"github.com/msdkit/msdkit/pkg/volume"
)

// A slice with its labels and a prediction side by side, shown inline in a
// GoNB notebook (elsewhere written to $MSD_PLOT_DIR when set).
func ExampleSlice() {
	img := volume.New([3]int{32, 32, 16}, 1, [3]float64{0.8, 0.8, 2.5})
	lab := volume.New(img.Shape, 1, img.Spacing)
	pred := volume.New(img.Shape, 1, img.Spacing)
	for z := 4; z < 12; z++ {
		for y := 10; y < 20; y++ {
			for x := 8; x < 24; x++ {
				i := img.Index(x, y, z)
				img.Data[i] = 100
				lab.Data[i] = 1
				pred.Data[img.Index(x, y-1, z)] = 1
			}
		}
	}
	png, err := plot.Slice(img, plot.SliceOptions{Plane: plot.Coronal, Index: plot.Auto, Labels: lab, Prediction: pred,
		LabelNames: map[int]string{1: "tumour"}, Title: "case 7"})
	if err != nil {
		log.Fatal(err)
	}
	if err := plot.Display(png); err != nil {
		log.Fatal(err)
	}
}

// Mean Dice with its min-max band over three seeds.
func ExampleAggregate() {
	epochs := []float64{1, 2, 3, 4}
	seeds := [][]float64{{0.2, 0.5, 0.7, 0.8}, {0.3, 0.55, 0.72, 0.81}, {0.1, 0.45, 0.69, 0.79}}
	s, err := plot.Aggregate("Dice anterior", epochs, seeds, plot.MinMax)
	if err != nil {
		log.Fatal(err)
	}
	png, err := plot.Curves([]plot.Series{s}, plot.CurvesOptions{XLabel: "epoch", YLabel: "Dice", YRange: [2]float64{0, 1}})
	if err != nil {
		log.Fatal(err)
	}
	plot.Display(png)
}
