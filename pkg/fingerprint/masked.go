package fingerprint

import (
	"fmt"

	"github.com/msdkit/msdkit/pkg/volume"
)

// ChannelStats computes StatsOf the voxels of channel c of v where mask is
// true, or of all its voxels when mask is nil (zero Stats when the mask is
// empty). It fails on a channel out of range or a mask of the wrong size.
func ChannelStats(v *volume.Volume, c int, mask []bool) (Stats, error) {
	if c < 0 || c >= v.Channels {
		return Stats{}, fmt.Errorf("fingerprint: channel %d of a volume with %d channels", c, v.Channels)
	}
	x := v.Channel(c)
	if mask == nil {
		return StatsOf(x), nil
	}
	if len(mask) != len(x) {
		return Stats{}, fmt.Errorf("fingerprint: mask has %d voxels, volume %v has %d", len(mask), v.Shape, len(x))
	}
	var in []float32
	for i, m := range mask {
		if m {
			in = append(in, x[i])
		}
	}
	return StatsOf(in), nil
}
