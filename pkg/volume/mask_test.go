package volume

import (
	"slices"
	"testing"
)

// labels3 is a 3x2x2 label map with labels 0..3 (x fastest).
func labels3() *Volume {
	v := New([3]int{3, 2, 2}, 1, [3]float64{1, 2, 3})
	copy(v.Data, []float32{0, 1, 2, 0, 3, 0, 1, 1, 0, 2, 0, 0})
	v.Affine[0][3] = 10
	return v
}

func TestMask(t *testing.T) {
	v := labels3()
	for _, c := range []struct {
		name   string
		labels []int
		want   []bool
	}{
		{"foreground", nil, []bool{false, true, true, false, true, false, true, true, false, true, false, false}},
		{"label 1", []int{1}, []bool{false, true, false, false, false, false, true, true, false, false, false, false}},
		{"labels 2 and 3", []int{2, 3}, []bool{false, false, true, false, true, false, false, false, false, true, false, false}},
		{"absent label", []int{7}, make([]bool, 12)},
	} {
		if got := v.Mask(c.labels...); !slices.Equal(got, c.want) {
			t.Errorf("%s: Mask(%v) = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestFromMask(t *testing.T) {
	v := labels3()
	m := v.Mask(2, 3)
	out, err := FromMask(v, m, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 5, 0, 5, 0, 0, 0, 0, 5, 0, 0}
	if !slices.Equal(out.Data, want) || out.Shape != v.Shape || out.Spacing != v.Spacing || out.Affine != v.Affine || out.Channels != 1 {
		t.Errorf("FromMask = %+v, want data %v with v's geometry", out, want)
	}
	if back := out.Mask(); !slices.Equal(back, m) {
		t.Errorf("Mask(FromMask(m)) = %v, want %v", back, m)
	}
	if _, err := FromMask(v, m[:5], 1); err == nil {
		t.Error("FromMask with a short mask: no error")
	}
}

func TestShift(t *testing.T) {
	// 4x2x1, two channels.
	v := New([3]int{4, 2, 1}, 2, [3]float64{1, 1, 1})
	copy(v.Data, []float32{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18})
	v.Affine[1][3] = -7
	for _, c := range []struct {
		axis, k int
		want    []float32
	}{
		{0, 0, []float32{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18}},
		{0, 1, []float32{0, 1, 2, 3, 0, 5, 6, 7, 0, 11, 12, 13, 0, 15, 16, 17}},
		{0, -2, []float32{3, 4, 0, 0, 7, 8, 0, 0, 13, 14, 0, 0, 17, 18, 0, 0}},
		{1, 1, []float32{0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 11, 12, 13, 14}},
		{1, -1, []float32{5, 6, 7, 8, 0, 0, 0, 0, 15, 16, 17, 18, 0, 0, 0, 0}},
		{0, 4, make([]float32, 16)},
		{2, -1, make([]float32, 16)},
	} {
		got, err := v.Shift(c.axis, c.k)
		if err != nil {
			t.Fatalf("Shift(%d, %d): %v", c.axis, c.k, err)
		}
		if !slices.Equal(got.Data, c.want) || got.Affine != v.Affine || got.Shape != v.Shape {
			t.Errorf("Shift(%d, %d) = %v (affine %v), want %v with the same grid", c.axis, c.k, got.Data, got.Affine, c.want)
		}
	}
	if _, err := v.Shift(3, 1); err == nil {
		t.Error("Shift along axis 3: no error")
	}
}

func TestWorld(t *testing.T) {
	v := New([3]int{4, 4, 4}, 1, [3]float64{0.5, 2, 3})
	v.Affine[0][3], v.Affine[1][3], v.Affine[2][3] = 10, -20, 30
	r := v.Clone()
	// An LPS-like affine: x and y flipped, axes permuted (voxel y runs along world z).
	r.Affine = [4][4]float64{{-1, 0, 0, 5}, {0, 0, -2, 6}, {0, 3, 0, 7}, {0, 0, 0, 1}}
	for _, c := range []struct {
		name    string
		v       *Volume
		x, y, z float64
		want    [3]float64
	}{
		{"origin", v, 0, 0, 0, [3]float64{10, -20, 30}},
		{"diagonal", v, 2, 1, 3, [3]float64{11, -18, 39}},
		{"fractional", v, 0.5, 0.5, 0.5, [3]float64{10.25, -19, 31.5}},
		{"permuted and flipped", r, 1, 2, 3, [3]float64{4, 0, 13}},
	} {
		if got := c.v.World(c.x, c.y, c.z); got != c.want {
			t.Errorf("%s: World(%g, %g, %g) = %v, want %v", c.name, c.x, c.y, c.z, got, c.want)
		}
	}
}

func TestExtentVoxelVolume(t *testing.T) {
	for _, c := range []struct {
		shape   [3]int
		spacing [3]float64
		extent  [3]float64
		voxel   float64
	}{
		{[3]int{10, 20, 5}, [3]float64{1, 1, 1}, [3]float64{10, 20, 5}, 1},
		{[3]int{4, 4, 2}, [3]float64{0.5, 0.25, 3.5}, [3]float64{2, 1, 7}, 0.4375},
	} {
		v := New(c.shape, 1, c.spacing)
		if v.Extent() != c.extent || v.VoxelVolume() != c.voxel {
			t.Errorf("shape %v spacing %v: extent %v, voxel %g mm³; want %v, %g", c.shape, c.spacing, v.Extent(), v.VoxelVolume(), c.extent, c.voxel)
		}
	}
}

func TestBoxGrow(t *testing.T) {
	shape := [3]int{10, 10, 4}
	for _, c := range []struct {
		b      Box
		margin [3]int
		want   Box
	}{
		{Box{[3]int{3, 3, 1}, [3]int{5, 6, 2}}, [3]int{0, 0, 0}, Box{[3]int{3, 3, 1}, [3]int{5, 6, 2}}},
		{Box{[3]int{3, 3, 1}, [3]int{5, 6, 2}}, [3]int{2, 1, 1}, Box{[3]int{1, 2, 0}, [3]int{7, 7, 3}}},
		{Box{[3]int{3, 3, 1}, [3]int{5, 6, 2}}, [3]int{8, 8, 3}, Box{[3]int{0, 0, 0}, [3]int{10, 10, 4}}},
	} {
		if got := c.b.Grow(c.margin, shape); got != c.want {
			t.Errorf("%v.Grow(%v) = %v, want %v", c.b, c.margin, got, c.want)
		}
	}
	v := labels3()
	if got, want := v.ForegroundBox(1), (Box{End: [3]int{3, 2, 2}}); got != want {
		t.Errorf("ForegroundBox(1) = %v, want %v", got, want)
	}
	empty := New([3]int{3, 2, 2}, 1, [3]float64{1, 1, 1})
	if got := empty.ForegroundBox(0); got != Full(empty.Shape) {
		t.Errorf("ForegroundBox of an empty map = %v, want the full grid", got)
	}
}

func TestLargestComponent(t *testing.T) {
	// 4x3x2 grid: a 3-voxel L in z=0, a 2-voxel bar in z=1 touching it only diagonally, one voxel.
	shape := [3]int{4, 3, 2}
	at := func(x, y, z int) int { return x + 4*(y+3*z) }
	mask := make([]bool, 24)
	for _, i := range []int{at(0, 0, 0), at(1, 0, 0), at(1, 1, 0), at(2, 2, 1), at(3, 2, 1), at(3, 0, 1)} {
		mask[i] = true
	}
	got := LargestComponent(mask, shape)
	for i := range got {
		want := i == at(0, 0, 0) || i == at(1, 0, 0) || i == at(1, 1, 0)
		if got[i] != want {
			t.Fatalf("voxel %d: %v, want %v", i, got[i], want)
		}
	}
	if got := LargestComponent(make([]bool, 24), shape); slices.Contains(got, true) {
		t.Error("empty mask gave a component")
	}
	// A hole enclosed in z is filled by NonzeroMask, one open to the border is not.
	v := &Volume{Shape: [3]int{3, 3, 3}, Channels: 1, Data: make([]float32, 27)}
	for i := range v.Data {
		v.Data[i] = 1
	}
	v.Data[1+3*(1+3*1)] = 0 // centre: enclosed
	v.Data[0] = 0           // corner: on the border
	m := v.NonzeroMask()
	if !m[1+3*(1+3*1)] || m[0] {
		t.Errorf("NonzeroMask: centre %v (want true), corner %v (want false)", m[13], m[0])
	}
}
