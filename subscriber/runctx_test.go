package subscriber_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport/mem"
)

// TestGroupRunContextEnvelopeNotInherited: a Group run under a context
// that carries an envelope (a service started from inside a handler, say)
// still gives each handler its own message's envelope, so what the
// handler publishes chains to the event it handles — not to whatever
// the run context carried.
func TestGroupRunContextEnvelopeNotInherited(t *testing.T) {
	tr, err := mem.New()
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()
	pub, err := publisher.New(tr.Publisher())
	require.NoError(t, err)
	sub, err := tr.Subscriber("strategy")
	require.NoError(t, err)
	g, err := subscriber.NewGroup(sub)
	require.NoError(t, err)
	got := make(chan events.Envelope, 1)
	require.NoError(t, subscriber.On(g, "trade.#", func(ctx context.Context, _ events.Trade) error {
		env, ok := events.EnvelopeFromContext(ctx)
		if !ok {
			t.Error("no envelope in the handler's context")
		}
		got <- env
		return nil
	}))
	runGroupIn(t, events.ContextWithEnvelope(context.Background(),
		events.Envelope{ID: "run-ctx", CorrelationID: "run-ctx-flow"}), g)

	// Published outside any handler, the event starts a flow: its
	// correlation id is its own id.
	require.NoError(t, pub.Publish(context.Background(), trade("binance", "BTCUSDT", "1")))
	select {
	case env := <-got:
		if env.ID == "" || env.ID == "run-ctx" || env.CorrelationID != env.ID {
			t.Fatalf("handler's envelope %+v, want the handled event's", env)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("not handled")
	}
}
