//go:build !(linux || darwin || freebsd)

package msd

// FreeSpace returns -1 (unknown) on this system.
func FreeSpace(dir string) int64 { return -1 }
