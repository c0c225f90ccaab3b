package nats_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
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
				tr := newTransport(b, nc, nats.WithPrefix(prefix), nats.WithConcurrency(conc))
				benchPublishHandle(b, tr, work)
			})
		}
	}
}

func benchPublishHandle(b *testing.B, tr *nats.Transport, work time.Duration) {
	sub, err := tr.Subscriber("bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, "trade.#")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		handled := 0
		for msg := range ch {
			go func() {
				if work > 0 {
					time.Sleep(work)
				}
				msg.Ack()
			}()
			handled++
			if handled == b.N {
				close(done)
			}
		}
	}()
	const batch = 100
	syms := make([]string, 64)
	for i := range syms {
		syms[i] = fmt.Sprintf("SYM%d", i)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		n := min(batch, b.N-i)
		sym := syms[(i/batch)%len(syms)]
		msgs := make([]*message.Message, n)
		for j := range msgs {
			msgs[j] = message.NewMessage(fmt.Sprint(i+j), []byte(`{"price":"1"}`))
			msgs[j].Metadata.Set(events.MetaPartitionKey, syms[(i+j)%len(syms)])
		}
		if err := tr.Publisher().Publish(events.Key("trade", "binance", sym), msgs...); err != nil {
			b.Fatal(err)
		}
		i += n
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatal("not all events handled")
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	cancel()
	_ = sub.Close()
}
