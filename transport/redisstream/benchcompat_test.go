package redisstream_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/redisstream"
)

func newBenchTransport(b *testing.B, c *redis.Client, prefix string) *transport.Portable {
	return newTransport(b, c, redisstream.WithPrefix(prefix))
}

// publishBatch sends msgs, each to its routingkey metadata, in one call.
func publishBatch(ctx context.Context, tr *transport.Portable, msgs []*message.Message) error {
	return tr.Publisher().(transport.BatchPublisher).PublishBatch(ctx, msgs)
}

// benchConsumeHandler measures the core's handler path (Subscriber.Consume:
// key-ordered workers, no channel) with a no-op handler.
func benchConsumeHandler(b *testing.B, c *redis.Client) {
	b.Run("consume/handler", func(b *testing.B) {
		prefix := uniquePrefix(b, c)
		tr := newBenchTransport(b, c, prefix)
		sub, err := tr.NewSubscriber("bench")
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		if err := sub.SubscribeInitialize("trade.#"); err != nil {
			b.Fatal(err)
		}
		rawPublish(b, c, prefix+"trade", benchMessages(b.N))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var handled atomic.Int64
		done := make(chan struct{})
		b.ResetTimer()
		start := time.Now()
		go func() {
			_ = sub.Consume(ctx, "trade.#", func(*message.Message) ([]*message.Message, error) {
				if handled.Add(1) == int64(b.N) {
					close(done)
				}
				return nil, nil
			})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("handled %d of %d", handled.Load(), b.N)
		}
		reportRate(b, start)
		cancel()
	})
}
