package metrics

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/msdkit/msdkit/pkg/volume"
)

// EvaluateFolder scores every NIfTI label map in predDir (*.nii.gz, *.nii)
// against the file of the same name in refDir, as nnU-Net's
// evaluate_folder, and returns the table. Case IDs are the file names
// without extension. A prediction without a reference is an error naming
// it. When progress is not nil a line per case is written to it.
func EvaluateFolder(refDir, predDir string, opts Options, progress io.Writer) (Table, error) {
	var cases []CaseResult
	start := time.Now()
	err := ForEachFolderCase(refDir, predDir, func(i, n int, id string, ref, pred *volume.Volume) error {
		c, err := EvaluateVolumes(id, ref, pred, opts)
		if err != nil {
			return err
		}
		cases = append(cases, c)
		if progress != nil {
			fmt.Fprintf(progress, "metrics: %d/%d %s (%s elapsed)\n", i+1, n, id, time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
	if err != nil {
		return Table{}, err
	}
	return Summarize(cases), nil
}

// ForEachFolderCase reads every NIfTI label map in predDir (*.nii.gz, *.nii, by name) with the
// reference of the same name in refDir and calls fn with its index, the count, the case ID (the
// file name without extension) and both volumes. A prediction without a reference is an error
// naming it; an error of fn stops the walk.
func ForEachFolderCase(refDir, predDir string, fn func(i, n int, id string, ref, pred *volume.Volume) error) error {
	entries, err := os.ReadDir(predDir)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && !strings.HasPrefix(n, ".") && (strings.HasSuffix(n, ".nii.gz") || strings.HasSuffix(n, ".nii")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return fmt.Errorf("metrics: no .nii/.nii.gz predictions in %s", predDir)
	}
	for i, n := range names {
		refPath := filepath.Join(refDir, n)
		if _, err := os.Stat(refPath); err != nil {
			return fmt.Errorf("metrics: prediction %s has no reference: %w", filepath.Join(predDir, n), err)
		}
		ref, err := volume.Read(refPath)
		if err != nil {
			return fmt.Errorf("metrics: reading reference: %w", err)
		}
		pred, err := volume.Read(filepath.Join(predDir, n))
		if err != nil {
			return fmt.Errorf("metrics: reading prediction: %w", err)
		}
		id := strings.TrimSuffix(strings.TrimSuffix(n, ".gz"), ".nii")
		if err := fn(i, len(names), id, ref, pred); err != nil {
			return err
		}
	}
	return nil
}
