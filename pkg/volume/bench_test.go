package volume

import "testing"

func benchVolume() *Volume {
	v := New([3]int{160, 160, 100}, 1, [3]float64{0.8, 0.8, 1.2})
	for i := range v.Data {
		v.Data[i] = float32(i % 97)
	}
	return v
}

func BenchmarkResample(b *testing.B) {
	v := benchVolume()
	lbl := v.Clone()
	for i := range lbl.Data {
		lbl.Data[i] = float32((i / 1000) % 3)
	}
	shape := ShapeForSpacing(v.Shape, v.Spacing, [3]float64{1, 1, 1})
	for _, tc := range []struct {
		name string
		run  func()
	}{
		{"linear", func() { v.Resample(shape, [3]Interp{}) }},
		{"cubic", func() { v.Resample(shape, [3]Interp{Cubic, Cubic, Cubic}) }},
		{"labels", func() { lbl.ResampleLabels(shape, [3]Interp{}) }},
		{"reorient", func() { v.Affine[0][0] = -0.8; v.Reorient("RAS"); v.Affine[0][0] = 0.8 }},
		{"nonzero-mask", func() { v.NonzeroMask() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(4 * v.NumVoxels()))
			for i := 0; i < b.N; i++ {
				tc.run()
			}
		})
	}
}
