package metrics_test

import (
	"fmt"
	"os"

	"github.com/msdkit/msdkit/pkg/metrics"
)

// Two 4x4x2 label maps with 1 mm x 1 mm x 3 mm voxels: label 1 is predicted
// one column too wide, label 2 is missed entirely, label 3 is in neither.
func ExampleEvaluate() {
	shape := [3]int{4, 4, 2}
	ref, pred := make([]uint8, 32), make([]uint8, 32)
	for z := 0; z < 2; z++ {
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				i := x + 4*(y+4*z)
				if x < 2 {
					ref[i] = 1
				}
				if x < 3 {
					pred[i] = 1
				}
				if x == 3 && y == 0 {
					ref[i] = 2
				}
			}
		}
	}
	res, err := metrics.Evaluate("case", ref, pred, shape, [3]float64{1, 1, 3}, metrics.Options{Labels: []int{1, 2, 3}})
	if err != nil {
		panic(err)
	}
	t := metrics.Summarize([]metrics.CaseResult{res})
	t.WriteCSV(os.Stdout)
	fmt.Println("mean Dice over labels with a defined Dice:", t.MeanDice)
	// Output:
	// case,label,name,dice,hd95,ref_voxels,pred_voxels
	// case,1,,0.8,1,16,24
	// case,2,,0,inf,2,0
	// case,3,,nan,nan,0,0
	// mean,1,,0.8,1,1,1
	// mean,2,,0,nan,1,0
	// mean,3,,nan,nan,0,0
	// mean Dice over labels with a defined Dice: 0.4
}
