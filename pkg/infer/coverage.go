package infer

import (
	"fmt"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Coverage describes how the tiles of a sliding-window pass cover a volume:
// where they start, how many cover each voxel and their summed Gaussian
// weight, the divisor of the blended probabilities (see the package doc).
// Sizes are in the volume's x, y, z order.
type Coverage struct {
	Shape, Patch [3]int
	// Starts holds the tile starts along x, y and z (TileStarts); the tiles
	// are every combination, len(Starts[0])*len(Starts[1])*len(Starts[2]).
	Starts [3][]int
	// Tile is the importance weight of one tile (GaussianMap as a volume of
	// the patch shape).
	Tile *volume.Volume
	// Weight is the summed weight of the tiles at every voxel of the volume,
	// Count the number of tiles that cover it (both one-channel volumes with
	// the volume's shape and spacing). Where a volume axis is shorter than
	// the patch, the tile reaches past the border (the padded grid of
	// Predictor.Probabilities) and only the part inside counts.
	Weight, Count *volume.Volume
}

// NewCoverage places tiles of size patch on a volume of size shape (both x,
// y, z) with the given overlap (TileStarts) and Gaussian sigma scale
// (GaussianMap; <= 0 uniform) and sums their weights.
func NewCoverage(shape, patch [3]int, spacing [3]float64, overlap, sigmaScale float64) (*Coverage, error) {
	for a := range 3 {
		if shape[a] <= 0 || patch[a] <= 0 {
			return nil, fmt.Errorf("infer: coverage of shape %v by patch %v: sizes must be positive", shape, patch)
		}
	}
	if overlap < 0 || overlap >= 1 {
		return nil, fmt.Errorf("infer: overlap %g must be in [0, 1)", overlap)
	}
	c := &Coverage{Shape: shape, Patch: patch}
	for a := range 3 {
		c.Starts[a] = TileStarts(max(shape[a], patch[a]), patch[a], overlap)
	}
	c.Tile = volume.New(patch, 1, spacing)
	copy(c.Tile.Data, GaussianMap([3]int{patch[2], patch[1], patch[0]}, sigmaScale))
	c.Weight = volume.New(shape, 1, spacing)
	c.Count = volume.New(shape, 1, spacing)
	for _, z0 := range c.Starts[2] {
		for _, y0 := range c.Starts[1] {
			for _, x0 := range c.Starts[0] {
				for z := z0; z < min(z0+patch[2], shape[2]); z++ {
					for y := y0; y < min(y0+patch[1], shape[1]); y++ {
						row := c.Weight.Index(0, y, z)
						tile := c.Tile.Index(0, y-y0, z-z0) - x0
						for x := x0; x < min(x0+patch[0], shape[0]); x++ {
							c.Weight.Data[row+x] += c.Tile.Data[tile+x]
							c.Count.Data[row+x]++
						}
					}
				}
			}
		}
	}
	return c, nil
}

// NumTiles is the number of tiles of the pass.
func (c *Coverage) NumTiles() int { return len(c.Starts[0]) * len(c.Starts[1]) * len(c.Starts[2]) }

// Profile is a weight curve along one axis of the volume.
type Profile struct {
	Start  int       // where the tile starts (0 for the summed curve)
	Pos    []int     // voxel positions along the axis
	Weight []float64 // weight at each position
}

// Profiles returns, along axis (0 x, 1 y, 2 z), the weight of each tile on
// the line through the tile centre (the other two axes at the middle of the
// patch), placed at its start and cut at the volume border, and their sum.
func (c *Coverage) Profiles(axis int) (tiles []Profile, sum Profile, err error) {
	if axis < 0 || axis > 2 {
		return nil, Profile{}, fmt.Errorf("infer: profile axis %d, want 0, 1 or 2", axis)
	}
	mid := [3]int{c.Patch[0] / 2, c.Patch[1] / 2, c.Patch[2] / 2}
	sum = Profile{Pos: make([]int, c.Shape[axis]), Weight: make([]float64, c.Shape[axis])}
	for i := range sum.Pos {
		sum.Pos[i] = i
	}
	for _, s := range c.Starts[axis] {
		p := Profile{Start: s}
		for i := 0; i < c.Patch[axis] && s+i < c.Shape[axis]; i++ {
			q := mid
			q[axis] = i
			w := float64(c.Tile.Data[c.Tile.Index(q[0], q[1], q[2])])
			p.Pos, p.Weight = append(p.Pos, s+i), append(p.Weight, w)
			sum.Weight[s+i] += w
		}
		tiles = append(tiles, p)
	}
	return tiles, sum, nil
}
