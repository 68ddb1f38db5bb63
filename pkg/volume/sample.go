package volume

import "math"

// At returns channel c at the continuous voxel position (x, y, z) by trilinear
// interpolation. Voxels outside the grid count as 0, so the value fades to 0
// within one voxel of the border and is exactly 0 beyond it.
func (v *Volume) At(c int, x, y, z float64) float32 {
	X, Y, Z := v.Shape[0], v.Shape[1], v.Shape[2]
	if c < 0 || c >= v.Channels || !(x > -1 && x < float64(X) && y > -1 && y < float64(Y) && z > -1 && z < float64(Z)) {
		return 0
	}
	fx, fy, fz := math.Floor(x), math.Floor(y), math.Floor(z)
	x0, y0, z0 := int(fx), int(fy), int(fz)
	wx, wy, wz := x-fx, y-fy, z-fz
	data := v.Channel(c)
	var sum float64
	for dz := 0; dz < 2; dz++ {
		zz := z0 + dz
		if zz < 0 || zz >= Z {
			continue
		}
		w := 1 - wz
		if dz == 1 {
			w = wz
		}
		if w == 0 {
			continue
		}
		for dy := 0; dy < 2; dy++ {
			yy := y0 + dy
			if yy < 0 || yy >= Y {
				continue
			}
			w2 := 1 - wy
			if dy == 1 {
				w2 = wy
			}
			if w2 == 0 {
				continue
			}
			row := X * (yy + Y*zz)
			if x0 >= 0 && wx != 1 {
				sum += w * w2 * (1 - wx) * float64(data[row+x0])
			}
			if x0+1 < X && wx != 0 {
				sum += w * w2 * wx * float64(data[row+x0+1])
			}
		}
	}
	return float32(sum)
}

// AtNearest returns channel c at the voxel nearest to (x, y, z) (halves round
// up), or 0 when that voxel is outside the grid. Use it for label maps.
func (v *Volume) AtNearest(c int, x, y, z float64) float32 {
	if c < 0 || c >= v.Channels {
		return 0
	}
	ix, iy, iz := math.Floor(x+0.5), math.Floor(y+0.5), math.Floor(z+0.5)
	if ix < 0 || iy < 0 || iz < 0 || ix >= float64(v.Shape[0]) || iy >= float64(v.Shape[1]) || iz >= float64(v.Shape[2]) {
		return 0
	}
	return v.Data[c*v.NumVoxels()+v.Index(int(ix), int(iy), int(iz))]
}

// Clone returns a deep copy of v.
func (v *Volume) Clone() *Volume {
	w := *v
	w.Data = append([]float32(nil), v.Data...)
	return &w
}
