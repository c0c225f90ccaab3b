package main

import (
	"time"

	"github.com/tradebus/tradebus/internal/cputime"
)

// processCPU is the process' CPU time; ok is false where it cannot be read
// (the cpu columns then read 0).
func processCPU() (time.Duration, bool) { return cputime.Process() }
