package main

import (
	"time"

	"github.com/tradebus/tradebus/internal/cputime"
)

// brokerCPU returns the CPU time (user + system) process pid used so far
// (Linux: a broker on this machine); 0 if pid is 0 or it cannot be read.
func brokerCPU(pid int) time.Duration { d, _ := cputime.Of(pid); return d }
