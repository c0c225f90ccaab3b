package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// On the transport's fast path (Subscriber.Consume, subscriber.Group) a
// handler that returns produced messages gets its key recorded once they
// are published, and the dedup middleware leaves no goroutine behind
// waiting on an Acked channel the fast path's messages do not have
// (goleak in TestMain). A second delivery of the event is then skipped.
func TestDedupFastPathProducedMessages(t *testing.T) {
	tr := newMem(t)
	d, err := NewDedup(WithConsumerGroup("g"), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	out, err := tr.NewSubscriber("audit")
	if err != nil {
		t.Fatal(err)
	}
	if err := out.SubscribeInitialize("signal.#"); err != nil {
		t.Fatal(err)
	}
	sub, err := tr.NewSubscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 4)
	h := d.Middleware(func(msg *message.Message) ([]*message.Message, error) {
		handled <- msg.UUID
		sig := message.NewMessage("sig-"+msg.UUID, []byte(`{}`))
		sig.Metadata.Set(events.MetaRoutingKey, "signal.x.BTCUSDT")
		return []*message.Message{sig}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := sub.Consume(ctx, "trade.#", h)
	if err != nil {
		t.Fatal(err)
	}
	publish := func() {
		msg := testMsg("e1")
		msg.Metadata.Set(events.MetaRoutingKey, "trade.binance.BTCUSDT")
		if err := tr.Publisher().Publish("trade.binance.BTCUSDT", msg); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	select {
	case id := <-handled:
		if id != "e1" {
			t.Fatalf("handled %s", id)
		}
	case <-time.After(time.Minute):
		t.Fatal("not handled")
	}
	for deadline := time.Now().Add(time.Minute); d.Stats().Processed != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("key not recorded after the produced message was published: %+v", d.Stats())
		}
	}
	publish() // the same event again
	for deadline := time.Now().Add(time.Minute); d.Stats().Duplicates != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("duplicate not skipped: %+v", d.Stats())
		}
	}
	if len(handled) != 0 {
		t.Fatal("the duplicate ran the handler")
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}
