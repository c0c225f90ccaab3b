//go:build !unix

package kafka

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
