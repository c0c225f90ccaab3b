package middleware_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
)

// decodeHandler is a realistic handler body: decode + validate a Trade.
func decodeHandler(msg *message.Message) ([]*message.Message, error) {
	_, err := subscriber.Decode[events.Trade](msg)
	return nil, err
}

// BenchmarkDefaultOverhead calls a decoding handler directly, bare and behind
// middleware.Default (in-memory dedup store), on the same messages, and
// reports both costs per event and their ratio.
func BenchmarkDefaultOverhead(b *testing.B) {
	pub, _ := publisher.New(nopPublisher{})
	const distinct = 4096
	msgs := make([]*message.Message, distinct)
	for i := range msgs {
		m, err := pub.NewMessage(context.Background(), trade(i))
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	stack, err := middleware.Default(nopPublisher{}, middleware.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	bare := message.HandlerFunc(decodeHandler)
	wrapped := stack.Middleware(decodeHandler)
	// Fresh ids so that every event is new to the dedup store, as in a live stream.
	fresh := func(i int) *message.Message {
		src := msgs[i%distinct]
		m := message.NewMessage(src.UUID, src.Payload)
		for k, v := range src.Metadata {
			m.Metadata[k] = v
		}
		id := fmt.Sprintf("%s-%d", src.UUID, i)
		m.UUID, m.Metadata[events.MetaID] = id, id
		return m
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bareNs, wrappedNs time.Duration
	for i := 0; b.Loop(); i++ {
		m1, m2 := fresh(i), fresh(i)
		t0 := time.Now()
		if _, err := bare(m1); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := wrapped(m2); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		bareNs += t1.Sub(t0)
		wrappedNs += t2.Sub(t1)
	}
	b.ReportMetric(float64(bareNs.Nanoseconds())/float64(b.N), "bare-ns/event")
	b.ReportMetric(float64(wrappedNs.Nanoseconds())/float64(b.N), "default-ns/event")
	b.ReportMetric(float64(wrappedNs)/float64(bareNs), "default/bare")
}

// BenchmarkRouterDefault moves events through publisher → mem → router →
// subscriber.Handle, once bare and once with middleware.Default, in the same
// run, and reports events/s of both and their ratio.
func BenchmarkRouterDefault(b *testing.B) {
	run := func(b *testing.B, n int, withStack bool) time.Duration {
		tr := newMem(b)
		pub, _ := publisher.New(tr.Publisher())
		sub, _ := tr.Subscriber("bench")
		r, _ := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
		if withStack {
			s, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("bench"), middleware.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			r.AddMiddleware(s.Middlewares()...)
		}
		var handled atomic.Int64
		done := make(chan struct{})
		if _, err := subscriber.Handle(r, sub, "trade.#", func(context.Context, events.Trade) error {
			if handled.Add(1) == int64(n) {
				close(done)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = r.Run(ctx) }()
		<-r.Running()
		evs := make([]events.Event, n)
		for i := range evs {
			evs[i] = trade(i)
		}
		start := time.Now()
		for i := 0; i < n; i += 100 {
			if err := pub.Publish(context.Background(), evs[i:min(i+100, n)]...); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		elapsed := time.Since(start)
		_ = r.Close()
		return elapsed
	}
	const perRound = 20_000
	var bare, wrapped time.Duration
	for b.Loop() {
		bare += run(b, perRound, false)
		wrapped += run(b, perRound, true)
	}
	events := float64(perRound * b.N)
	b.ReportMetric(events/bare.Seconds(), "bare-events/s")
	b.ReportMetric(events/wrapped.Seconds(), "default-events/s")
	b.ReportMetric(float64(wrapped)/float64(bare), "default/bare-time")
}

type nopPublisher struct{}

func (nopPublisher) Publish(string, ...*message.Message) error { return nil }
func (nopPublisher) Close() error                              { return nil }
