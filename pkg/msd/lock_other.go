//go:build !(linux || darwin || freebsd)

package msd

// lockFile does nothing on this system: concurrent downloads of the same
// task into the same root are not prevented.
func lockFile(path string, wait func()) (func(), error) { return func() {}, nil }
