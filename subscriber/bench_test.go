package subscriber_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport/mem"
)

// BenchmarkMemEndToEnd moves b.N Trades over 16 symbols from one
// publishing goroutine to a no-op handler and reports events/s and
// allocations per event (allocs/op; one op = one event, publish to
// handled), and the process's CPU time per event (cpu-ns/event: on a
// loaded machine a steadier measure of cost than the wall clock).
//
//   - gochannel-router: the baseline a user would pick on Watermill alone:
//     GoChannel with default config and a message.Router, raw messages
//     carrying the same encoded Trade (no encoding or decoding).
//   - typed-router: publisher.Publish → mem → subscriber.Handle on a router.
//   - typed-group: publisher.Publish → mem → subscriber.Group (fast path),
//     decode + validate.
//   - typed-group-default-stack: the same with middleware.Default.
func BenchmarkMemEndToEnd(b *testing.B) {
	const symbols, batch = 16, 256
	evs := make([]events.Event, batch)
	for i := range evs {
		evs[i] = trade("binance", fmt.Sprintf("SYM%02d", i%symbols), strconv.Itoa(i))
	}
	payload, err := events.Marshal(evs[0])
	if err != nil {
		b.Fatal(err)
	}

	b.Run("gochannel-router", func(b *testing.B) {
		gc := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
		r, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		var handled atomic.Int64
		done := make(chan struct{})
		n := int64(b.N)
		r.AddConsumerHandler("h", "trade", gc, func(*message.Message) error {
			if handled.Add(1) == n {
				close(done)
			}
			return nil
		})
		go func() { _ = r.Run(context.Background()) }()
		<-r.Running()
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			msg := message.NewMessage(watermill.NewUUID(), payload)
			msg.Metadata.Set(events.MetaPartitionKey, "SYM")
			if err := gc.Publish("trade", msg); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/event")
		_ = r.Close()
		_ = gc.Close()
	})

	typed := func(b *testing.B, start func(tr message.Subscriber, pub message.Publisher, handled func()) func()) {
		tr, err := mem.New(mem.WithBuffer(1 << 16))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = tr.Close(context.Background()) }()
		sub, err := tr.Subscriber("bench")
		if err != nil {
			b.Fatal(err)
		}
		var count atomic.Int64
		done := make(chan struct{})
		n := int64(b.N)
		stop := start(sub, tr.Publisher(), func() {
			if count.Add(1) == n {
				close(done)
			}
		})
		defer stop()
		pub, err := publisher.New(tr.Publisher())
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for sent := 0; sent < b.N; sent += batch {
			if err := pub.Publish(ctx, evs[:min(batch, b.N-sent)]...); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/event")
	}
	b.Run("typed-router", func(b *testing.B) {
		typed(b, func(sub message.Subscriber, _ message.Publisher, handled func()) func() {
			r, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := subscriber.Handle(r, sub, "trade.#", func(context.Context, events.Trade) error {
				handled()
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			go func() { _ = r.Run(context.Background()) }()
			<-r.Running()
			return func() { _ = r.Close() }
		})
	})
	group := func(b *testing.B, withStack bool) {
		typed(b, func(sub message.Subscriber, pub message.Publisher, handled func()) func() {
			var mws []message.HandlerMiddleware
			if withStack {
				stack, err := middleware.Default(pub, middleware.WithConsumerGroup("bench"))
				if err != nil {
					b.Fatal(err)
				}
				mws = stack.Middlewares()
			}
			g, err := subscriber.NewGroup(sub, mws...)
			if err != nil {
				b.Fatal(err)
			}
			if err := subscriber.On(g, "trade.#", func(context.Context, events.Trade) error {
				handled()
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = g.Run(ctx); close(done) }()
			<-g.Running()
			return func() { cancel(); <-done }
		})
	}
	b.Run("typed-group", func(b *testing.B) { group(b, false) })
	b.Run("typed-group-default-stack", func(b *testing.B) { group(b, true) })
}
