//go:build !unix

package subscriber_test

import "time"

// cpuTime is not measured here: benchmarks report 0 cpu-ns/event.
func cpuTime() time.Duration { return 0 }
