//go:build unix

package kafka

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of the process so far: the
// benchmarks report CPU time per message, which (unlike wall time) does
// not grow when other processes take the shared cores.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
