package middleware_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

type benchKey struct{ n int }

// consumedContext returns the context of a message that a transport
// consumer (mem, subscriber.Group's way: Consume under a named handler)
// delivered, its consumer still running: the chain of contexts every
// message's lookups walk, a service's own values and cancellation
// included.
func consumedContext(b *testing.B) context.Context {
	tr, err := mem.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Close(context.Background()) })
	sub, err := tr.Subscriber("bench")
	if err != nil {
		b.Fatal(err)
	}
	svc := context.Background()
	for i := range 3 {
		svc = context.WithValue(svc, benchKey{i}, i)
	}
	runCtx, stop := context.WithCancel(middleware.ContextWithHandlerName(svc, "trade@trade.#"))
	got := make(chan context.Context, 1)
	wait, err := sub.(*transport.Subscriber).Consume(runCtx, "trade.#", func(m *message.Message) ([]*message.Message, error) {
		got <- m.Context()
		return nil, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stop(); _ = wait() })
	m := message.NewMessage("ctx", nil)
	m.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", m); err != nil {
		b.Fatal(err)
	}
	return <-got
}

// BenchmarkChainLayers runs a subscriber.On-like handler (decode, validate,
// envelope into the context) on messages built before the timer — each a
// new event, with the metadata the publisher writes and the context a
// transport consumer gives (consumedContext) — bare and behind each layer of
// middleware.Default, to show what each costs per event.
func BenchmarkChainLayers(b *testing.B) {
	pub, _ := publisher.New(nopPublisher{})
	tmpl := make([]*message.Message, 16)
	for i := range tmpl {
		m, err := pub.NewMessage(context.Background(), trade(i))
		if err != nil {
			b.Fatal(err)
		}
		tmpl[i] = m
	}
	base := consumedContext(b)
	handler := func(msg *message.Message) ([]*message.Message, error) {
		ev, err := subscriber.Decode[events.Trade](msg)
		if err != nil {
			return nil, err
		}
		ctx := msg.Context()
		if _, ok := events.EnvelopeFromContext(ctx); !ok {
			ctx = events.ContextWithEnvelope(ctx, events.EnvelopeFromMetadata(msg.Metadata))
		}
		_, _ = ctx, ev
		return nil, nil
	}
	stack := func(opts ...middleware.Option) message.HandlerFunc {
		s, err := middleware.Default(nopPublisher{}, append([]middleware.Option{middleware.WithConsumerGroup("bench"), middleware.WithLogger(quiet)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		return s.Middleware(handler)
	}
	one := func(mw func() (message.HandlerMiddleware, error)) message.HandlerFunc {
		m, err := mw()
		if err != nil {
			b.Fatal(err)
		}
		return m(handler)
	}
	cases := []struct {
		name string
		h    func() message.HandlerFunc
	}{
		{"bare", func() message.HandlerFunc { return handler }},
		{"default", func() message.HandlerFunc { return stack() }},
		{"default-nodedup", func() message.HandlerFunc { return stack(middleware.WithoutDedup()) }},
		{"correlation", func() message.HandlerFunc {
			return one(func() (message.HandlerMiddleware, error) { return middleware.NewCorrelation() })
		}},
		{"poison", func() message.HandlerFunc {
			return one(func() (message.HandlerMiddleware, error) {
				p, err := middleware.NewPoison(nopPublisher{}, middleware.WithLogger(quiet))
				if err != nil {
					return nil, err
				}
				return p.Middleware, nil
			})
		}},
		{"retry", func() message.HandlerFunc {
			return one(func() (message.HandlerMiddleware, error) {
				r, err := middleware.NewRetry(middleware.WithLogger(quiet))
				if err != nil {
					return nil, err
				}
				return r.Middleware, nil
			})
		}},
		{"dedup", func() message.HandlerFunc {
			return one(func() (message.HandlerMiddleware, error) {
				d, err := middleware.NewDedup(middleware.WithLogger(quiet), middleware.WithConsumerGroup("bench"))
				if err != nil {
					return nil, err
				}
				return d.Middleware, nil
			})
		}},
		{"recoverer", func() message.HandlerFunc {
			return one(func() (message.HandlerMiddleware, error) { return middleware.NewRecoverer() })
		}},
	}
	const chunk = 1 << 14
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := c.h()
			msgs := make([]*message.Message, chunk)
			seq := 0
			fill := func() {
				for i := range msgs {
					src := tmpl[seq%len(tmpl)]
					md := make(message.Metadata, len(src.Metadata))
					for k, v := range src.Metadata {
						md[k] = v
					}
					id := fmt.Sprintf("0193a5c2-7d4e-7b1f-9c3a-%012d", seq)
					md[events.MetaID] = id
					m := &message.Message{UUID: id, Metadata: md, Payload: src.Payload}
					m.SetContext(base)
					msgs[i] = m
					seq++
				}
			}
			b.ReportAllocs()
			i := chunk
			for b.Loop() {
				if i == chunk {
					b.StopTimer()
					fill()
					i = 0
					b.StartTimer()
				}
				if _, err := h(msgs[i]); err != nil {
					b.Fatal(err)
				}
				msgs[i] = nil
				i++
			}
		})
	}
}
