package msd

import (
	"fmt"
	"math"
	"strings"
)

// GeometryTolerance bounds the difference between the spacings and affine
// entries of an image and its label: |a-b| <= GeometryTolerance*max(1,|a|,|b|)
// (1e-3: 1 µm at 1 mm, 0.1 mm at an offset of 100 mm; float32 rounding of
// the header fields stays far below).
var GeometryTolerance = 1e-3

// geometry is the spatial part of a volume or header.
type geometry struct {
	shape   [3]int
	spacing [3]float64
	affine  [4][4]float64
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= GeometryTolerance*max(1, math.Abs(a), math.Abs(b))
}

// compareGeometry returns an error naming both files and what differs.
func compareGeometry(imgFile string, a geometry, lblFile string, b geometry) error {
	var diffs []string
	if a.shape != b.shape {
		diffs = append(diffs, fmt.Sprintf("shape %v vs %v", a.shape, b.shape))
	}
	for i := range 3 {
		if !near(a.spacing[i], b.spacing[i]) {
			diffs = append(diffs, fmt.Sprintf("spacing %v vs %v mm", a.spacing, b.spacing))
			break
		}
	}
affine:
	for i := range 4 {
		for j := range 4 {
			if !near(a.affine[i][j], b.affine[i][j]) {
				diffs = append(diffs, fmt.Sprintf("affine[%d][%d] %g vs %g (affines %v vs %v)", i, j, a.affine[i][j], b.affine[i][j], a.affine, b.affine))
				break affine
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("msd: image %s and label %s differ in geometry: %s", imgFile, lblFile, strings.Join(diffs, "; "))
}

// countLabels counts the voxels of each label value 0..numClasses-1 in data
// (one channel of shape), rejecting values that are not integers (labels
// stored as floats are fine when exact) or outside the range; numClasses <= 0
// accepts any non-negative integer and sizes the counts from the maximum.
func countLabels(data []float32, shape [3]int, numClasses int, file string) ([]int64, error) {
	counts := make([]int64, max(numClasses, 1))
	for i, v := range data {
		iv := int(v)
		if float32(iv) != v || v < 0 || (numClasses > 0 && iv >= numClasses) {
			x, y, z := i%shape[0], (i/shape[0])%shape[1], i/(shape[0]*shape[1])
			if float32(iv) != v || v < 0 {
				return nil, fmt.Errorf("msd: label %s: value %v at voxel (%d,%d,%d) is not a label (non-negative integer)", file, v, x, y, z)
			}
			return nil, fmt.Errorf("msd: label %s: value %d at voxel (%d,%d,%d) is outside the labels 0..%d of dataset.json", file, iv, x, y, z, numClasses-1)
		}
		if iv >= len(counts) {
			counts = append(counts, make([]int64, iv+1-len(counts))...)
		}
		counts[iv]++
	}
	return counts, nil
}
