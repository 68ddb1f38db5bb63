package volume

import (
	"fmt"
	"math"
	"strings"

	"github.com/msdkit/msdkit/pkg/parallel"
)

// Orientation says along which world axis each voxel axis runs. World
// coordinates are RAS+ (NIfTI): +x Right, +y Anterior, +z Superior.
type Orientation struct {
	// World[i] is the world axis (0: R-L, 1: A-P, 2: S-I) voxel axis i runs along.
	World [3]int `json:"world"`
	// Neg[i] is true when voxel axis i runs towards L, P or I.
	Neg [3]bool `json:"neg"`
}

var axisLetters = [3][2]byte{{'R', 'L'}, {'A', 'P'}, {'S', 'I'}}

// Code returns the axis codes, e.g. "RAS" or "LPS" (the direction each voxel
// axis points to, as nibabel's aff2axcodes).
func (o Orientation) Code() string {
	var b [3]byte
	for i := 0; i < 3; i++ {
		s := 0
		if o.Neg[i] {
			s = 1
		}
		b[i] = axisLetters[o.World[i]][s]
	}
	return string(b[:])
}

// ParseOrientation parses axis codes like "RAS", "LPS" or "PIR".
func ParseOrientation(code string) (Orientation, error) {
	var o Orientation
	code = strings.ToUpper(code)
	if len(code) != 3 {
		return o, fmt.Errorf("volume: orientation %q: want 3 letters from R/L, A/P, S/I", code)
	}
	seen := [3]bool{}
	for i := 0; i < 3; i++ {
		found := false
		for w := 0; w < 3; w++ {
			for s := 0; s < 2; s++ {
				if code[i] == axisLetters[w][s] {
					if seen[w] {
						return o, fmt.Errorf("volume: orientation %q uses world axis %c%c twice", code, axisLetters[w][0], axisLetters[w][1])
					}
					seen[w], found = true, true
					o.World[i], o.Neg[i] = w, s == 1
				}
			}
		}
		if !found {
			return o, fmt.Errorf("volume: orientation %q: bad letter %q", code, code[i])
		}
	}
	return o, nil
}

// OrientationOf derives the orientation from the affine's direction columns:
// each voxel axis is assigned the world axis its (normalised) column points
// along most, the largest components first.
func OrientationOf(affine [4][4]float64) (Orientation, error) {
	var o Orientation
	var r [3][3]float64
	for j := 0; j < 3; j++ {
		n := math.Sqrt(affine[0][j]*affine[0][j] + affine[1][j]*affine[1][j] + affine[2][j]*affine[2][j])
		if !(n > 0) || math.IsInf(n, 0) {
			return o, fmt.Errorf("volume: affine column %d is zero or not finite: cannot derive orientation", j)
		}
		for i := 0; i < 3; i++ {
			r[i][j] = affine[i][j] / n
		}
	}
	usedW, usedV := [3]bool{}, [3]bool{}
	for k := 0; k < 3; k++ {
		bi, bj, best := -1, -1, -1.0
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				if !usedW[i] && !usedV[j] && math.Abs(r[i][j]) > best {
					bi, bj, best = i, j, math.Abs(r[i][j])
				}
			}
		}
		usedW[bi], usedV[bj] = true, true
		o.World[bj] = bi
		o.Neg[bj] = r[bi][bj] < 0
	}
	return o, nil
}

// Orientation returns the orientation of v's affine.
func (v *Volume) Orientation() (Orientation, error) { return OrientationOf(v.Affine) }

// Reorientation records an exact axis permutation and flips: axis i of the
// result is axis Perm[i] of the source, reversed when Flip[i].
type Reorientation struct {
	From        string  `json:"from"`
	To          string  `json:"to"`
	Perm        [3]int  `json:"perm"`
	Flip        [3]bool `json:"flip"`
	SourceShape [3]int  `json:"source_shape"`
}

// IsIdentity reports whether r changes nothing.
func (r Reorientation) IsIdentity() bool {
	return r.Perm == [3]int{0, 1, 2} && r.Flip == [3]bool{}
}

// Reorient permutes and flips v's axes (no interpolation) so that its affine
// has orientation code to (e.g. "RAS"), updating spacing and affine so every
// voxel keeps its world position. The returned record undoes it (Undo).
func (v *Volume) Reorient(to string) (*Volume, Reorientation, error) {
	src, err := v.Orientation()
	if err != nil {
		return nil, Reorientation{}, err
	}
	dst, err := ParseOrientation(to)
	if err != nil {
		return nil, Reorientation{}, err
	}
	r := Reorientation{From: src.Code(), To: dst.Code(), SourceShape: v.Shape}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if src.World[j] == dst.World[i] {
				r.Perm[i] = j
				r.Flip[i] = src.Neg[j] != dst.Neg[i]
			}
		}
	}
	return r.Apply(v), r, nil
}

// Apply applies the permutation and flips of r to v.
func (r Reorientation) Apply(v *Volume) *Volume {
	return permuteFlip(v, r.Perm, r.Flip)
}

// Undo maps a volume in the reoriented grid back to the source grid exactly.
func (r Reorientation) Undo(v *Volume) (*Volume, error) {
	var seen [3]bool
	for _, p := range r.Perm {
		if p < 0 || p > 2 || seen[p] {
			return nil, fmt.Errorf("volume: undo reorientation: perm %v is not a permutation of 0, 1, 2", r.Perm)
		}
		seen[p] = true
	}
	var want [3]int
	for i := 0; i < 3; i++ {
		want[i] = r.SourceShape[r.Perm[i]]
	}
	if v.Shape != want {
		return nil, fmt.Errorf("volume: undo reorientation: shape %v, want %v", v.Shape, want)
	}
	var inv [3]int
	var flip [3]bool
	for i := 0; i < 3; i++ {
		inv[r.Perm[i]] = i
		flip[r.Perm[i]] = r.Flip[i]
	}
	return permuteFlip(v, inv, flip), nil
}

func permuteFlip(v *Volume, perm [3]int, flip [3]bool) *Volume {
	var shape [3]int
	var spacing [3]float64
	for i := 0; i < 3; i++ {
		shape[i] = v.Shape[perm[i]]
		spacing[i] = v.Spacing[perm[i]]
	}
	out := &Volume{Shape: shape, Channels: v.Channels, Spacing: spacing}
	out.Data = make([]float32, len(v.Data))
	// Affine: new voxel n maps to old voxel M*n.
	var m [4][4]float64
	m[3][3] = 1
	stride := [3]int{1, v.Shape[0], v.Shape[0] * v.Shape[1]}
	var start, step [3]int
	for i := 0; i < 3; i++ {
		j := perm[i]
		if flip[i] {
			m[j][i] = -1
			m[j][3] = float64(v.Shape[j] - 1)
			start[i] = (v.Shape[j] - 1) * stride[j]
			step[i] = -stride[j]
		} else {
			m[j][i] = 1
			step[i] = stride[j]
		}
	}
	out.Affine = matMul(v.Affine, m)
	n := v.NumVoxels()
	for c := 0; c < v.Channels; c++ {
		src, dst := v.Data[c*n:(c+1)*n], out.Data[c*n:(c+1)*n]
		parallel.For(shape[2], 0, func(lo, hi int) {
			for z := lo; z < hi; z++ {
				for y := 0; y < shape[1]; y++ {
					o := start[0] + start[1] + start[2] + z*step[2] + y*step[1]
					d := shape[0] * (y + shape[1]*z)
					for x := 0; x < shape[0]; x++ {
						dst[d+x] = src[o]
						o += step[0]
					}
				}
			}
		})
	}
	return out
}

func matMul(a, b [4][4]float64) [4][4]float64 {
	var c [4][4]float64
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			for k := 0; k < 4; k++ {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}
