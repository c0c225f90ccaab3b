package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

type notPortable struct{ transport.Transport }

func TestBrowseErrors(t *testing.T) {
	tr, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	ctx := context.Background()
	keep := func(*message.Message) bool { return true }
	if err := transport.Browse(ctx, notPortable{tr}, "dlq", "deadletter", keep); !errors.Is(err, transport.ErrNotSupported) {
		t.Errorf("not on the core: %v, want ErrNotSupported", err)
	}
	if err := transport.Browse(ctx, tr, "a.b", "deadletter", keep); !errors.Is(err, transport.ErrInvalidGroup) {
		t.Errorf("bad group: %v", err)
	}
	if err := transport.Browse(ctx, tr, "dlq", "*.x", keep); !errors.Is(err, events.ErrInvalidRoutingKey) {
		t.Errorf("bad pattern: %v", err)
	}
	if err := transport.Browse(ctx, tr, "dlq", "deadletter", nil); !errors.Is(err, transport.ErrInvalidOption) {
		t.Errorf("nil func: %v", err)
	}
	// A group without a subscription has nothing to show on mem.
	n := 0
	if err := transport.Browse(ctx, tr, "dlq", "deadletter", func(*message.Message) bool { n++; return true }); err != nil || n != 0 {
		t.Errorf("missing queue: %d, %v", n, err)
	}
}

// Browse passes what the group would receive: matching keys, not messages
// addressed to another group; fn returning false stops it. Received
// messages' contexts name the subscription's group.
func TestBrowseFiltersAndStops(t *testing.T) {
	tr, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	sub, _ := tr.NewSubscriber("risk")
	if err := sub.SubscribeInitialize("trade.#"); err != nil {
		t.Fatal(err)
	}
	pub := func(id, key, to string) {
		m := message.NewMessage(id, nil)
		if to != "" {
			m.Metadata.Set(transport.MetaReplayGroup, to)
		}
		if err := tr.Publisher().Publish(key, m); err != nil {
			t.Fatal(err)
		}
	}
	pub("a", "trade.binance.BTCUSDT", "")
	pub("b", "trade.binance.ETHUSDT", "portfolio") // addressed to another group
	pub("c", "trade.kraken.BTCUSDT", "risk")
	pub("d", "trade.kraken.ETHUSDT", "")
	var got []string
	ctx := context.Background()
	if err := transport.Browse(ctx, tr, "risk", "trade.#", func(m *message.Message) bool {
		got = append(got, m.UUID)
		return len(got) < 2
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("browsed %v, want [a c] (b is portfolio's, stopped after two)", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := sub.Subscribe(cctx, "trade.#")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "c", "d"} {
		select {
		case m := <-ch:
			if m.UUID != want || transport.GroupFromContext(m.Context()) != "risk" {
				t.Fatalf("received %s in group %q, want %s in risk", m.UUID, transport.GroupFromContext(m.Context()), want)
			}
			m.Ack()
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s", want)
		}
	}
	if g := transport.GroupFromContext(ctx); g != "" {
		t.Errorf("GroupFromContext of a plain ctx: %q", g)
	}
}
