package nats_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
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
	brokertest.SendPipelined(ctx, t, d.Topic(), key, "BTCUSDT", n)

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
	ids := brokertest.InCallOrder(t, got)
	if err := sub.SendAcks(ctx, ids); err != nil {
		t.Fatal(err)
	}
}
