package msd

import (
	"fmt"

	"github.com/msdkit/msdkit/pkg/volume"
)

// LoadCase reads the image and label of a case with volume.Read (a 4D image
// gives one channel per modality) and checks them: the image has the
// declared number of channels, the label one channel with the image's shape,
// spacing and affine (within GeometryTolerance), and whole-number values in
// the label range of dataset.json (labels stored as floats are accepted when
// exact). Errors name the files and what is wrong.
func LoadCase(c Case) (img, lbl *volume.Volume, err error) {
	img, err = volume.Read(c.Image)
	if err != nil {
		return nil, nil, fmt.Errorf("msd: case %s: %w", c.ID, err)
	}
	lbl, err = volume.Read(c.Label)
	if err != nil {
		return nil, nil, fmt.Errorf("msd: case %s: %w", c.ID, err)
	}
	if c.Channels > 0 && img.Channels != c.Channels {
		return nil, nil, fmt.Errorf("msd: image %s has %d channels, dataset.json declares %d modalities", c.Image, img.Channels, c.Channels)
	}
	if lbl.Channels != 1 {
		return nil, nil, fmt.Errorf("msd: label %s has %d channels, want 1", c.Label, lbl.Channels)
	}
	if err := compareGeometry(c.Image, volumeGeometry(img), c.Label, volumeGeometry(lbl)); err != nil {
		return nil, nil, err
	}
	if _, err := countLabels(lbl, c.NumClasses, c.Label); err != nil {
		return nil, nil, err
	}
	return img, lbl, nil
}
