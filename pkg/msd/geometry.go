package msd

import (
	"fmt"
	"math"
	"strings"

	"github.com/msdkit/msdkit/pkg/volume"
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

// volumeGeometry is the geometry of a volume.
func volumeGeometry(v *volume.Volume) geometry {
	return geometry{shape: v.Shape, spacing: v.Spacing, affine: v.Affine}
}

// countLabels counts the voxels of each label value 0..numClasses-1 of a
// label volume (values must be whole numbers, so labels stored as floats are
// fine when exact; see volume.LabelCounts) and rejects values outside the
// labels of dataset.json; numClasses <= 0 sizes the counts from the largest
// value found.
func countLabels(v *volume.Volume, numClasses int, file string) ([]int64, error) {
	m, err := v.LabelCounts()
	if err != nil {
		return nil, fmt.Errorf("msd: label %s: %w", file, err)
	}
	n := numClasses
	for l := range m {
		if numClasses > 0 && l >= numClasses {
			return nil, fmt.Errorf("msd: label %s: %d voxels hold value %d, outside the labels 0..%d of dataset.json", file, m[l], l, numClasses-1)
		}
		n = max(n, l+1)
	}
	counts := make([]int64, max(n, 1))
	for l, c := range m {
		counts[l] = int64(c)
	}
	return counts, nil
}
