package transport_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/msgctx"
	"github.com/tradebus/tradebus/transport"
)

type callerKey struct{}

// TestConsumerContextScopesMessageKeys: a consumed message's context,
// on the fast path (Consume) and on the channel path (Subscribe), names
// the group and passes the caller's values through, but holds no value of
// a message-scoped key (msgctx: envelope, failure record, dedup key) that
// the caller's context carries — those belong to each message, set above
// the consumer's context. So a handler's envelope is its message's, never
// one the service's run context happened to carry.
func TestConsumerContextScopesMessageKeys(t *testing.T) {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close(ctx) }()
	caller := events.ContextWithEnvelope(context.WithValue(ctx, callerKey{}, "mine"), events.Envelope{ID: "run-ctx"})
	for _, k := range []msgctx.Key{msgctx.Failures, msgctx.DedupKey} {
		caller = context.WithValue(caller, k, "stale")
	}
	if !events.HasEnvelope(caller) || caller.Value(msgctx.Failures) == nil {
		t.Fatal("the caller's context lost its values")
	}
	check := func(path string, m *message.Message) {
		t.Helper()
		c := m.Context()
		if n := lookupAllocs(c); n != 0 {
			t.Errorf("%s: a lookup through the message's context allocates %.0f times", path, n)
		}
		if g := transport.GroupFromContext(c); g != "risk" {
			t.Errorf("%s: group %q, want risk", path, g)
		}
		if v, _ := c.Value(callerKey{}).(string); v != "mine" {
			t.Errorf("%s: the caller's value is %q", path, v)
		}
		if env, ok := events.EnvelopeFromContext(c); ok {
			t.Errorf("%s: the message's context has the run context's envelope %q", path, env.ID)
		}
		for _, k := range []msgctx.Key{msgctx.Envelope, msgctx.Failures, msgctx.DedupKey} {
			if v := c.Value(k); v != nil {
				t.Errorf("%s: key %d answers %v, want nil", path, k, v)
			}
		}
	}
	sub, err := tr.Subscriber("risk")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *message.Message, 1)
	runCtx, stop := context.WithCancel(caller)
	wait, err := sub.(*transport.Subscriber).Consume(runCtx, "k.#", func(m *message.Message) ([]*message.Message, error) {
		got <- m
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(id string) {
		m := message.NewMessage(id, nil)
		m.Metadata.Set(events.MetaPartitionKey, "p")
		if err := tr.Publisher().Publish("k.a", m); err != nil {
			t.Fatal(err)
		}
	}
	publish("1")
	select {
	case m := <-got:
		check("Consume", m)
	case <-time.After(30 * time.Second):
		t.Fatal("nothing consumed")
	}
	stop()
	if err := wait(); err != nil {
		t.Fatal(err)
	}

	chCtx, cancel := context.WithCancel(caller)
	defer cancel()
	ch, err := sub.Subscribe(chCtx, "k.#")
	if err != nil {
		t.Fatal(err)
	}
	publish("2")
	select {
	case m := <-ch:
		check("Subscribe", m)
		m.Ack()
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received")
	}
}
