package plot

import (
	"fmt"
	"math"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Plane is an anatomical viewing plane.
type Plane int

const (
	// Axial (transverse) slices are perpendicular to the superior-inferior axis.
	Axial Plane = iota
	// Coronal slices are perpendicular to the anterior-posterior axis.
	Coronal
	// Sagittal slices are perpendicular to the left-right axis.
	Sagittal
)

// Planes lists the planes in the order of their values.
var Planes = []Plane{Axial, Coronal, Sagittal}

func (p Plane) String() string {
	switch p {
	case Axial:
		return "axial"
	case Coronal:
		return "coronal"
	case Sagittal:
		return "sagittal"
	}
	return fmt.Sprintf("Plane(%d)", int(p))
}

// worldLetters[w][0] is the letter of the +w direction in NIfTI RAS+ world
// coordinates, worldLetters[w][1] that of -w.
var worldLetters = [3][2]string{{"R", "L"}, {"A", "P"}, {"S", "I"}}

// axisMap is the nearest-axis reading of a voxel-to-world affine
// (volume.OrientationOf, as nibabel's io_orientation): voxel axis i runs
// along world axis world[i] in direction sign[i] (+1 or -1).
type axisMap struct {
	world [3]int
	sign  [3]float64
	// obliqueDeg is the largest angle between a voxel axis and the world
	// axis it was assigned to, in degrees (0 for an axis-aligned affine).
	obliqueDeg float64
}

func readAffine(aff [4][4]float64) (axisMap, error) {
	var m axisMap
	o, err := volume.OrientationOf(aff)
	if err != nil {
		return m, fmt.Errorf("plot: %w", err)
	}
	for i := 0; i < 3; i++ {
		m.world[i], m.sign[i] = o.World[i], 1
		if o.Neg[i] {
			m.sign[i] = -1
		}
		n := math.Sqrt(aff[0][i]*aff[0][i] + aff[1][i]*aff[1][i] + aff[2][i]*aff[2][i])
		cos := math.Min(1, math.Abs(aff[o.World[i]][i])/n)
		m.obliqueDeg = math.Max(m.obliqueDeg, math.Acos(cos)*180/math.Pi)
	}
	return m, nil
}

// view says how a plane of a volume maps to the screen.
type view struct {
	plane        Plane
	normal       int  // voxel axis perpendicular to the screen
	h, v         int  // voxel axes along screen columns and rows
	hFlip, vFlip bool // column (row) 0 shows the last voxel of h (v)
	// Orientation letters at the left, right, top and bottom image edges.
	left, right, top, bottom string
	obliqueDeg               float64
}

// newView chooses the voxel axes and flips that show plane p in radiological
// convention: axial and coronal views show the patient's right on the
// image's left, anterior (axial) or superior (coronal, sagittal) at the top;
// sagittal views show anterior on the left. The letters are derived from the
// affine's actual directions, so they stay right for any voxel order.
func newView(aff [4][4]float64, p Plane) (view, error) {
	m, err := readAffine(aff)
	if err != nil {
		return view{}, err
	}
	// World axes (RAS) along the normal, screen-right (pointing to -world)
	// and screen-up (pointing to +world).
	var wn, wh, wv int
	switch p {
	case Axial:
		wn, wh, wv = 2, 0, 1
	case Coronal:
		wn, wh, wv = 1, 0, 2
	case Sagittal:
		wn, wh, wv = 0, 1, 2
	default:
		return view{}, fmt.Errorf("plot: unknown plane %d", int(p))
	}
	vw := view{plane: p, obliqueDeg: m.obliqueDeg}
	for i := 0; i < 3; i++ {
		switch m.world[i] {
		case wn:
			vw.normal = i
		case wh:
			vw.h = i
		case wv:
			vw.v = i
		}
	}
	// Unflipped, screen-right is +axis h, whose world sign is sign[h]; we
	// want it to point to -world, so flip when the sign is positive.
	vw.hFlip = m.sign[vw.h] > 0
	// Unflipped, rows grow downwards along +axis v, so screen-up is -axis v;
	// we want screen-up along +world, so flip when sign[v] is positive.
	vw.vFlip = m.sign[vw.v] > 0
	right := m.sign[vw.h]
	if vw.hFlip {
		right = -right
	}
	up := -m.sign[vw.v]
	if vw.vFlip {
		up = -up
	}
	vw.right, vw.left = letterPair(wh, right)
	vw.top, vw.bottom = letterPair(wv, up)
	return vw, nil
}

// letterPair returns the letters of direction s (+1/-1) along world axis w
// and of the opposite direction.
func letterPair(w int, s float64) (string, string) {
	if s > 0 {
		return worldLetters[w][0], worldLetters[w][1]
	}
	return worldLetters[w][1], worldLetters[w][0]
}

// voxel returns the voxel coordinates shown at display (col, row) of slice k.
func (vw view) voxel(shape [3]int, k, col, row int) (x, y, z int) {
	var c [3]int
	c[vw.normal] = k
	if vw.hFlip {
		col = shape[vw.h] - 1 - col
	}
	if vw.vFlip {
		row = shape[vw.v] - 1 - row
	}
	c[vw.h], c[vw.v] = col, row
	return c[0], c[1], c[2]
}
