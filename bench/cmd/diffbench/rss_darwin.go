//go:build darwin

package main

import (
	"os"
	"syscall"
)

// maxRSSKiB returns the peak resident set of an exited process in KiB; macOS reports ru_maxrss in bytes.
func maxRSSKiB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss / 1024
	}
	return 0
}

// selfMaxRSSKiB returns this process's own peak resident set in KiB.
func selfMaxRSSKiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss / 1024
}
