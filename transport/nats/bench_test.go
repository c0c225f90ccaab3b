package nats_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

// BenchmarkPublishHandle measures publish→handle throughput through the
// real NATS JetStream (file storage): b.N events over 64 symbols
// (partition keys), published in batches of 100, handled the way
// Watermill's router does (a goroutine per message), with a handler that
// returns at once or takes 200µs (a database write, say). concurrency=1 is
// Watermill's one-at-a-time model; 64 is the default key-ordered
// concurrency.
func BenchmarkPublishHandle(b *testing.B) {
	nc := connect(b)
	for _, work := range []time.Duration{0, 200 * time.Microsecond} {
		for _, conc := range []int{1, 64} {
			b.Run(fmt.Sprintf("work=%s/concurrency=%d", work, conc), func(b *testing.B) {
				prefix := uniquePrefix(b, nc)
				tr := newTransportWith(b, nc, []transport.Option{transport.WithConcurrency(conc)}, nats.WithPrefix(prefix))
				brokertest.BenchPublishHandle(b, tr, work)
			})
		}
	}
}
