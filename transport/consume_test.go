package transport_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
)

// TestConsumeDrainCutShort: when Consume's handler is still busy after the
// close timeout, wait reports it (the message goes back to the broker and
// the handler's ctx ends); a drain that finishes in time reports nil.
func TestConsumeDrainCutShort(t *testing.T) {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://?close_timeout=50ms")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close(ctx) }()
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	busy := make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	wait, err := sub.(*transport.Subscriber).Consume(runCtx, "k.#", func(msg *message.Message) ([]*message.Message, error) {
		close(busy)
		<-msg.Context().Done() // ends when the drain is cut short
		return nil, msg.Context().Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	m := message.NewMessage("1", nil)
	m.Metadata.Set("partitionkey", "p")
	if err := tr.Publisher().Publish("k.a", m); err != nil {
		t.Fatal(err)
	}
	<-busy
	stop()
	if err := wait(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait after a drain cut short: %v, want DeadlineExceeded", err)
	}

	idleCtx, stopIdle := context.WithCancel(ctx)
	wait, err = sub.(*transport.Subscriber).Consume(idleCtx, "k.#", func(*message.Message) ([]*message.Message, error) {
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stopIdle()
	if err := wait(); err != nil {
		t.Errorf("wait after a drain in time: %v", err)
	}
}
