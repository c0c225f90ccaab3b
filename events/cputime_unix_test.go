//go:build unix

package events_test

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of the process so far, so
// that benchmarks can report CPU time per operation, which (unlike wall
// time) does not grow when other processes take the shared cores.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
