package middleware_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
)

func signalFor(t events.Trade, strategy string) events.Signal {
	return events.Signal{Strategy: strategy, Exchange: t.Exchange, Symbol: t.Symbol, Action: events.SignalBuy,
		Strength: events.MustDecimal("0.5"), Time: t.Time}
}

// Correlation and causation through publisher.Publish(ctx) inside a typed
// handler and through messages returned by a Watermill handler, on mem.
func TestCorrelationEndToEnd(t *testing.T) {
	tr := newMem(t)
	pub, _ := publisher.New(tr.Publisher())
	audit, _ := tr.NewSubscriber("audit")
	if err := audit.SubscribeInitialize("signal.#"); err != nil {
		t.Fatal(err)
	}
	stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("strategy"), middleware.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
	r.AddMiddleware(stack.Middlewares()...)
	sub1, _ := tr.Subscriber("strategy")
	if _, err := subscriber.Handle(r, sub1, "trade.#", func(ctx context.Context, tr events.Trade) error {
		return pub.Publish(ctx, signalFor(tr, "typed"))
	}); err != nil {
		t.Fatal(err)
	}
	sub2, _ := tr.Subscriber("producer")
	r.AddHandler("produces", "trade.#", sub2, "signal.binance.BTCUSDT.produced", tr.Publisher(), func(msg *message.Message) ([]*message.Message, error) {
		return []*message.Message{message.NewMessage(watermill.NewUUID(), []byte(`{}`))}, nil
	})
	startRouter(t, r)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := audit.Subscribe(ctx, "signal.#")
	if err != nil {
		t.Fatal(err)
	}
	collect := func(n int) map[string]message.Metadata { // by strategy segment
		out := make(map[string]message.Metadata)
		for len(out) < n {
			select {
			case m := <-ch:
				key := m.Metadata.Get(events.MetaRoutingKey)
				out[key[len("signal.binance.BTCUSDT."):]] = m.Metadata
				m.Ack()
			case <-time.After(10 * time.Second):
				t.Fatalf("got %d of %d signals", len(out), n)
			}
		}
		return out
	}

	// A root event starts a flow.
	root := trade(0) // binance BTCUSDT
	msg, _ := pub.NewMessage(context.Background(), root)
	rootID := msg.Metadata.Get(events.MetaID)
	if err := tr.Publisher().Publish(root.RoutingKey(), msg); err != nil {
		t.Fatal(err)
	}
	for name, md := range collect(2) {
		if md.Get(events.MetaCorrelationID) != rootID || md.Get(events.MetaCausationID) != rootID || md.Get(events.MetaID) == rootID {
			t.Errorf("%s: correlation %s causation %s id %s, want %s/%s", name, md.Get(events.MetaCorrelationID), md.Get(events.MetaCausationID), md.Get(events.MetaID), rootID, rootID)
		}
	}

	// An event inside a flow: correlation inherited, causation = its id.
	// Its metadata has no correlation id for the produced path to find...
	parent := events.Envelope{ID: "parent-1", CorrelationID: "flow-1"}
	msg, _ = pub.NewMessage(events.ContextWithEnvelope(context.Background(), parent), trade(2))
	childID := msg.Metadata.Get(events.MetaID)
	if err := tr.Publisher().Publish(msg.Metadata.Get(events.MetaRoutingKey), msg); err != nil {
		t.Fatal(err)
	}
	for name, md := range collect(2) {
		if md.Get(events.MetaCorrelationID) != "flow-1" || md.Get(events.MetaCausationID) != childID {
			t.Errorf("%s: correlation %s causation %s, want flow-1/%s", name, md.Get(events.MetaCorrelationID), md.Get(events.MetaCausationID), childID)
		}
	}
	// ... and an event without any correlation metadata starts a flow too.
	bare := message.NewMessage("bare-1", msg.Payload)
	bare.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", bare); err != nil {
		t.Fatal(err)
	}
	for name, md := range collect(2) {
		if md.Get(events.MetaCorrelationID) != "bare-1" || md.Get(events.MetaCausationID) != "bare-1" {
			t.Errorf("%s: correlation %s causation %s, want bare-1", name, md.Get(events.MetaCorrelationID), md.Get(events.MetaCausationID))
		}
	}
}
