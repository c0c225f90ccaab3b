//go:build unix

package subscriber_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) the process used so far.
// On a shared, loaded machine it measures a benchmark's cost better than
// the wall clock, which counts the time other processes held the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
