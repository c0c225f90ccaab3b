package mem_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
)

func BenchmarkOps(b *testing.B) {
	brokertest.BenchOps(b, newMem(b), "bench.#")
}

// TestLagFiltered: a mem queue holds only what matches its pattern.
func TestLagFiltered(t *testing.T) {
	brokertest.CheckLagFiltered(t, newMem(t), ".*", 3, 10*time.Second)
}
