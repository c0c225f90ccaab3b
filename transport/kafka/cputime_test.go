package kafka

import (
	"time"

	"github.com/tradebus/tradebus/internal/cputime"
)

func processCPU() (time.Duration, bool) { return cputime.Process() }
