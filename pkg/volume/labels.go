package volume

import (
	"fmt"
	"math"
)

// MaxLabel is the largest label value accepted in label maps.
const MaxLabel = 255

// LabelCounts counts the voxels of each label of a label map (channel 0). It
// fails when a value is not a whole number in [0, MaxLabel].
func (v *Volume) LabelCounts() (map[int]int, error) {
	if v.Channels != 1 {
		return nil, fmt.Errorf("volume: label map has %d channels, want 1", v.Channels)
	}
	var counts [MaxLabel + 1]int
	for i, x := range v.Data {
		if !(x >= 0 && x <= MaxLabel) || float64(x) != math.Round(float64(x)) {
			return nil, fmt.Errorf("volume: label map value %g at voxel %d is not a label in 0..%d", x, i, MaxLabel)
		}
		counts[int(x)]++
	}
	m := map[int]int{}
	for l, n := range counts {
		if n > 0 {
			m[l] = n
		}
	}
	return m, nil
}
