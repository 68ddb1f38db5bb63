package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/msdkit/msdkit/pkg/msd"
	"github.com/msdkit/msdkit/pkg/phantom"
)

func TestDownloadCmd(t *testing.T) {
	root := t.TempDir()
	task, _ := msd.Lookup("Task04")
	if err := phantom.WriteSet(filepath.Join(root, task.Name), task, phantom.SpecFor(task), 1, 1); err != nil {
		t.Fatal(err)
	}
	// A set already under the root is kept, without any network access.
	if err := downloadCmd([]string{"-data", root, "-task", "Hippocampus"}); err != nil {
		t.Fatalf("existing set: %v", err)
	}
	if err := downloadCmd([]string{"-data", root}); err == nil || !strings.Contains(err.Error(), "-task is required") {
		t.Errorf("missing -task: %v", err)
	}
	if err := downloadCmd([]string{"-data", root, "-task", "Task99"}); err == nil || !strings.Contains(err.Error(), "Task99") {
		t.Errorf("unknown task: %v", err)
	}
}
