package redisstream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// BenchmarkPublishHandle measures publish→handle throughput through the
// real Redis: b.N events over 64 symbols (partition keys), published in
// batches of 100, handled the way Watermill's router does (a goroutine per
// message), with a handler that returns at once or takes 200µs (a
// database write, say). concurrency=1 is Watermill's one-at-a-time model;
// 64 is the default key-ordered concurrency.
func BenchmarkPublishHandle(b *testing.B) {
	c := newClient(b)
	for _, work := range []time.Duration{0, 200 * time.Microsecond} {
		for _, conc := range []int{1, 64} {
			b.Run(fmt.Sprintf("work=%s/concurrency=%d", work, conc), func(b *testing.B) {
				prefix := uniquePrefix(b, c)
				tr := newTransportWith(b, c, []transport.Option{transport.WithConcurrency(conc)}, redisstream.WithPrefix(prefix))
				brokertest.BenchPublishHandle(b, tr, work)
			})
		}
	}
}
