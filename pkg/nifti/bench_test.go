package nifti

import (
	"bytes"
	"testing"
)

// benchFile encodes a 96x96x64 volume of int-valued float32 noise-free ramps.
func benchFile(b *testing.B, gz bool, dt DataType) []byte {
	b.Helper()
	n := 96 * 96 * 64
	var data any
	switch dt {
	case DTInt16:
		data = ramp(n, func(i int) int16 { return int16(i % 3001) })
	default:
		data = ramp(n, func(i int) float32 { return float32(i % 3001) })
	}
	img, err := New([]int{96, 96, 64}, nil, Affine{}, data)
	if err != nil {
		b.Fatal(err)
	}
	img.SclSlope, img.SclInter = 0.5, 10
	var buf bytes.Buffer
	if err := Encode(&buf, img, gz, WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchDecode(b *testing.B, gz bool, dt DataType) {
	f := benchFile(b, gz, dt)
	b.SetBytes(96 * 96 * 64 * 4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := Decode("bench.nii", f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.Float32(); err != nil {
			b.Fatal(err)
		}
	}
}

// Throughput is in float32 output bytes.
func BenchmarkDecodeFloat32(b *testing.B)       { benchDecode(b, false, DTFloat32) }
func BenchmarkDecodeFloat32Gzip(b *testing.B)   { benchDecode(b, true, DTFloat32) }
func BenchmarkDecodeInt16Scaled(b *testing.B)   { benchDecode(b, false, DTInt16) }
func BenchmarkDecodeInt16ScaledGz(b *testing.B) { benchDecode(b, true, DTInt16) }
