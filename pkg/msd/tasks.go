package msd

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultBaseURL is MONAI's public mirror of the MSD archives; the archive of a
// task is DefaultBaseURL + "/" + Task.Name + ".tar".
const DefaultBaseURL = "https://msd-for-monai.s3-us-west-2.amazonaws.com"

// ImagingKind says how intensities of a task are normalised: CT values are
// Hounsfield units (clip to foreground percentiles, then z-score with the
// dataset-wide statistics), MRI values are arbitrary (z-score per image).
type ImagingKind int

const (
	// MRI images have arbitrary intensity units.
	MRI ImagingKind = iota
	// CT images are in Hounsfield units.
	CT
)

func (k ImagingKind) String() string {
	if k == CT {
		return "CT"
	}
	return "MRI"
}

// Task describes one Medical Segmentation Decathlon task.
type Task struct {
	// Number is the task number, 1 to 10.
	Number int
	// Name is the folder and archive name, e.g. "Task04_Hippocampus".
	Name string
	// Description is the task's description from its dataset.json.
	Description string
	// Modalities names the image channels in order (dataset.json "modality").
	Modalities []string
	// Labels names the label values 0..len(Labels)-1 (dataset.json "labels").
	Labels []string
	// Dims is 4 when images are 4D files with the modalities on the 4th axis,
	// else 3.
	Dims int
	// Kind is CT or MRI, deciding the intensity normalisation.
	Kind ImagingKind
	// MD5 is the hex md5 of the whole archive; empty skips the check.
	MD5 string
	// Size is the archive size in bytes (see SizeApprox).
	Size int64
	// SizeApprox is true when Size is a rounded figure rather than the exact
	// byte count of the archive.
	SizeApprox bool
}

// Channels is the number of image channels (modalities).
func (t Task) Channels() int { return len(t.Modalities) }

// NumClasses is the number of label values including background.
func (t Task) NumClasses() int { return len(t.Labels) }

// URL returns the archive URL under base (DefaultBaseURL when empty).
func (t Task) URL(base string) string {
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimRight(base, "/") + "/" + t.Name + ".tar"
}

const (
	mb = 1000 * 1000
	gb = 1000 * mb
)

// Tasks is the registry of the ten MSD tasks, in task order.
//
// Archive sizes: every Size is a rounded figure (SizeApprox true): 27 MB for
// Task04, 1.5 GB for Task09 and 7.1 GB for Task01 are the published sizes; the
// others are the commonly listed sizes of the MSD tars (Task02 435 MB, Task03
// 28.5 GB, Task05 229 MB, Task06 8.5 GB, Task07 11.4 GB, Task08 8.6 GB, Task10
// 5.4 GB). The downloader trusts the server's Content-Length, never Size.
var Tasks = []Task{
	{Number: 1, Name: "Task01_BrainTumour", Description: "Gliomas segmentation tumour and oedema in on brain images",
		Modalities: []string{"FLAIR", "T1w", "t1gd", "T2w"}, Labels: []string{"background", "edema", "non-enhancing tumor", "enhancing tumour"},
		Dims: 4, Kind: MRI, MD5: "240a19d752f0d9e9101544901065d872", Size: 7100 * mb, SizeApprox: true},
	{Number: 2, Name: "Task02_Heart", Description: "Left atrium segmentation",
		Modalities: []string{"MRI"}, Labels: []string{"background", "left atrium"},
		Dims: 3, Kind: MRI, MD5: "06ee59366e1e5124267b774dbd654057", Size: 435 * mb, SizeApprox: true},
	{Number: 3, Name: "Task03_Liver", Description: "Liver and liver tumor segmentation",
		Modalities: []string{"CT"}, Labels: []string{"background", "liver", "cancer"},
		Dims: 3, Kind: CT, MD5: "a90ec6c4aa7f6a3d087205e23d4e6397", Size: 28500 * mb, SizeApprox: true},
	{Number: 4, Name: "Task04_Hippocampus", Description: "Left and right hippocampus segmentation",
		Modalities: []string{"MRI"}, Labels: []string{"background", "Anterior", "Posterior"},
		Dims: 3, Kind: MRI, MD5: "9d24dba78a72977dbd1d2e110310f31b", Size: 27 * mb, SizeApprox: true},
	{Number: 5, Name: "Task05_Prostate", Description: "Prostate transitional zone and peripheral zone segmentation",
		Modalities: []string{"T2", "ADC"}, Labels: []string{"background", "PZ", "TZ"},
		Dims: 4, Kind: MRI, MD5: "35138f08b1efaef89d7424d2bcc928db", Size: 229 * mb, SizeApprox: true},
	{Number: 6, Name: "Task06_Lung", Description: "Lung and cancer segmentation",
		Modalities: []string{"CT"}, Labels: []string{"background", "cancer"},
		Dims: 3, Kind: CT, MD5: "8afd997733c7fc0432f71255ba4e52dc", Size: 8500 * mb, SizeApprox: true},
	{Number: 7, Name: "Task07_Pancreas", Description: "Pancreas and cancer segmentation",
		Modalities: []string{"CT"}, Labels: []string{"background", "pancreas", "cancer"},
		Dims: 3, Kind: CT, MD5: "4f7080cfca169fa8066d17ce6eb061e4", Size: 11400 * mb, SizeApprox: true},
	{Number: 8, Name: "Task08_HepaticVessel", Description: "Hepatic vessels and tumour segmentation",
		Modalities: []string{"CT"}, Labels: []string{"background", "Vessel", "Tumour"},
		Dims: 3, Kind: CT, MD5: "641d79e80ec66453921d997fbf12a29c", Size: 8600 * mb, SizeApprox: true},
	{Number: 9, Name: "Task09_Spleen", Description: "Spleen segmentation",
		Modalities: []string{"CT"}, Labels: []string{"background", "spleen"},
		Dims: 3, Kind: CT, MD5: "410d4a301da4e5b2f6f86ec3ddba524e", Size: 1500 * mb, SizeApprox: true},
	{Number: 10, Name: "Task10_Colon", Description: "Colon cancer segmentation",
		Modalities: []string{"CT"}, Labels: []string{"background", "colon cancer primaries"},
		Dims: 3, Kind: CT, MD5: "bad7a188931dc2f6acf72b08eb6202d0", Size: 5400 * mb, SizeApprox: true},
}

// Lookup finds a task by its full name ("Task04_Hippocampus"), its prefix
// ("Task04"), its short name ("Hippocampus", any case) or its number ("4").
func Lookup(name string) (Task, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	n, numErr := strconv.Atoi(key)
	for _, t := range Tasks {
		full := strings.ToLower(t.Name)
		prefix, short, _ := strings.Cut(full, "_")
		if key == full || key == prefix || key == short || (numErr == nil && n == t.Number) {
			return t, nil
		}
	}
	return Task{}, fmt.Errorf("msd: unknown task %q (want one of Task01_BrainTumour .. Task10_Colon)", name)
}

// HumanBytes formats a byte count with decimal units (kB, MB, GB).
func HumanBytes(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < mb:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < gb:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}

// TaskNames returns the names of the registered tasks, in task order.
func TaskNames() []string {
	out := make([]string, len(Tasks))
	for i, t := range Tasks {
		out[i] = t.Name
	}
	return out
}
