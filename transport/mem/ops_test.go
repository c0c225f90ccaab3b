package mem_test

import (
	"testing"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
)

func BenchmarkOps(b *testing.B) {
	brokertest.BenchOps(b, newMem(b), "bench.#")
}
