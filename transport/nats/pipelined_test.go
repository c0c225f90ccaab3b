package nats_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestSendPipelinedKeepsOrder: batches of one key sent with SendPipelined
// one after the other, every one in flight before any confirm is awaited,
// are all confirmed and stored in call order.
func TestSendPipelinedKeepsOrder(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	d := newDriver(t, nc, nats.WithPrefix(prefix))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const group, pattern, key, n = "g", "order.#", "order.binance.BTCUSDT", 60
	if err := d.Prepare(ctx, group, pattern); err != nil {
		t.Fatal(err)
	}
	pt, ok := d.Topic().(driver.PipelinedTopic)
	if !ok {
		t.Fatal("the NATS topic does not pipeline")
	}
	var waits []func() error
	for i := range n {
		s := strconv.Itoa(i)
		w, err := pt.SendPipelined(ctx, []*driver.Message{{
			UUID: "m" + s, Key: key, PartitionKey: "BTCUSDT",
			Metadata: map[string]string{"routingkey": key, "partitionkey": "BTCUSDT"},
			Payload:  []byte(s),
		}})
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		waits = append(waits, w)
	}
	for i, w := range waits {
		if err := w(); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}

	sub, err := d.Subscribe(ctx, group, pattern)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close(context.Background())
	var got []*driver.Message
	for len(got) < n {
		b, err := sub.ReceiveBatch(ctx, n)
		if err != nil {
			t.Fatalf("after %d of %d: %v", len(got), n, err)
		}
		got = append(got, b...)
	}
	var ids []driver.AckID
	for i, m := range got {
		if string(m.Payload) != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: stored out of call order", i, m.Payload)
		}
		ids = append(ids, m.AckID)
	}
	if err := sub.SendAcks(ctx, ids); err != nil {
		t.Fatal(err)
	}
}
