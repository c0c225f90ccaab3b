package subscriber_test

import (
	"time"

	"github.com/tradebus/tradebus/internal/cputime"
)

// cpuTime is the process' CPU time so far (0 where it cannot be read).
func cpuTime() time.Duration { d, _ := cputime.Process(); return d }
