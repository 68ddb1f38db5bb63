package msd

import (
	"os"
	"path/filepath"
)

// EnvData names the environment variable holding the data root.
const EnvData = "MSD_DATA"

// EnvFast names the environment variable that selects fast mode ("1").
const EnvFast = "MSD_FAST"

// EnvMirror names the environment variable overriding DefaultBaseURL, for a
// local mirror of the archives (http(s) URL of the folder holding <Task>.tar).
const EnvMirror = "MSD_MIRROR"

// DataRoot returns the folder holding the MSD sets: $MSD_DATA when set, else
// the "data" folder at the root of the Go module containing the working
// directory (found by walking up to go.mod), else "./data".
func DataRoot() string {
	if d := os.Getenv(EnvData); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return "data"
	}
	if dir, ok := moduleRoot(wd); ok {
		return filepath.Join(dir, "data")
	}
	return filepath.Join(wd, "data")
}

// moduleRoot walks up from dir to the first folder containing go.mod.
func moduleRoot(dir string) (string, bool) {
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// FastMode reports whether MSD_FAST=1 (few cases, no downloads).
func FastMode() bool { return os.Getenv(EnvFast) == "1" }
