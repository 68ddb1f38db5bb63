package fingerprint

import (
	"fmt"

	"github.com/msdkit/msdkit/pkg/msd"
)

// FromDataset builds the Input for an opened MSD set.
func FromDataset(ds *msd.Dataset) Input {
	in := Input{Name: ds.Name, Modalities: ds.Modalities, Labels: map[int]string{}}
	if ds.Task.Name != "" {
		in.Name = ds.Task.Name
	}
	for l, name := range ds.Labels {
		in.Labels[l] = name
	}
	for _, c := range ds.Cases {
		in.Cases = append(in.Cases, Case{ID: c.ID, Image: c.Image, Label: c.Label})
	}
	return in
}

// InputFromFolder opens the MSD set in dir (its dataset.json) as an Input.
func InputFromFolder(dir string) (Input, error) {
	ds, err := msd.OpenDir(dir)
	if err != nil {
		return Input{}, fmt.Errorf("fingerprint: %w", err)
	}
	return FromDataset(ds), nil
}
