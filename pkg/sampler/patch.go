package sampler

import (
	"fmt"

	"github.com/msdkit/msdkit/pkg/volume"
)

// Patch returns patch i of the batch as volumes with the given voxel spacing
// (and a diagonal affine): the image with all its channels and the label map.
// The layouts already agree ([C, Z, Y, X] row-major is the volume layout), so
// this is a copy; a 2D patch [C, Y, X] becomes a volume one voxel thick.
func (b *Batch) Patch(i int, spacing [3]float64) (img, lbl *volume.Volume, err error) {
	if len(b.Shape) != 4 && len(b.Shape) != 5 {
		return nil, nil, fmt.Errorf("sampler: batch shape %v is neither [B, C, Y, X] nor [B, C, Z, Y, X]", b.Shape)
	}
	if i < 0 || i >= b.Shape[0] {
		return nil, nil, fmt.Errorf("sampler: patch %d of a batch of %d", i, b.Shape[0])
	}
	sp := b.Shape[2:] // z, y, x (2D: y, x)
	shape := [3]int{sp[len(sp)-1], sp[len(sp)-2], 1}
	if len(sp) == 3 {
		shape[2] = sp[0]
	}
	C, n := b.Shape[1], shape[0]*shape[1]*shape[2]
	if len(b.Images) != b.Shape[0]*C*n || len(b.Labels) != b.Shape[0]*n {
		return nil, nil, fmt.Errorf("sampler: batch of shape %v holds %d image and %d label values", b.Shape, len(b.Images), len(b.Labels))
	}
	img = volume.New(shape, C, spacing)
	copy(img.Data, b.Images[i*C*n:(i+1)*C*n])
	lbl = volume.New(shape, 1, spacing)
	for j, l := range b.Labels[i*n : (i+1)*n] {
		lbl.Data[j] = float32(l)
	}
	return img, lbl, nil
}
