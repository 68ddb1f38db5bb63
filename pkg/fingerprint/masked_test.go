package fingerprint

import (
	"testing"

	"github.com/msdkit/msdkit/pkg/volume"
)

func TestChannelStats(t *testing.T) {
	v := volume.New([3]int{2, 2, 1}, 2, [3]float64{1, 1, 1})
	copy(v.Data, []float32{4, 2, 6, 8, -1, 10, 20, 30})
	for _, c := range []struct {
		name string
		ch   int
		mask []bool
		want Stats
	}{
		{"all voxels", 0, nil, StatsOf([]float32{4, 2, 6, 8})},
		{"mask, channel 0", 0, []bool{true, false, true, false}, Stats{N: 2, Mean: 5, Std: 1, Min: 4, Max: 6, Median: 5, P005: 4.01, P995: 5.99}},
		{"mask, channel 1", 1, []bool{false, true, true, true}, StatsOf([]float32{10, 20, 30})},
		{"empty mask", 1, make([]bool, 4), Stats{}},
	} {
		got, err := ChannelStats(v, c.ch, c.mask)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !near(got, c.want) {
			t.Errorf("%s: ChannelStats = %+v, want %+v", c.name, got, c.want)
		}
	}
	if _, err := ChannelStats(v, 2, nil); err == nil {
		t.Error("channel 2 of 2: no error")
	}
	if _, err := ChannelStats(v, 0, []bool{true}); err == nil {
		t.Error("short mask: no error")
	}
}

func near(a, b Stats) bool {
	d := func(x, y float64) bool { return x-y < 1e-9 && y-x < 1e-9 }
	return a.N == b.N && d(a.Mean, b.Mean) && d(a.Std, b.Std) && d(a.Min, b.Min) && d(a.Max, b.Max) &&
		d(a.Median, b.Median) && d(a.P005, b.P005) && d(a.P995, b.P995)
}
