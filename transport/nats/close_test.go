package nats_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestCloseNaksAfterRequestsEnd drives a subscription that closes while a
// message it never handed out lies in its inbox and its pull request is
// still open. Close must give that message back only once the request has
// ended: a NAK sent earlier is redelivered into the very request, read by
// Close and NAKed again until the request ends (each round a delivery
// spent), and nats-server before 2.10.14 can lose count of a consumer's
// messages when such a redelivery meets the request's expiry. So when
// Close returns, each message was delivered once, and the next member gets
// both, each on its second delivery.
func TestCloseNaksAfterRequestsEnd(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	d := newDriver(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = d.Close(context.Background()) })

	const group, pattern = "g", "order.#"
	if err := d.Prepare(ctx, group, pattern); err != nil {
		t.Fatal(err)
	}
	payloads := []string{"0", "1"}
	var out []*driver.Message
	for _, p := range payloads {
		out = append(out, &driver.Message{
			UUID: "m" + p, Key: "order.binance.BTCUSDT", PartitionKey: "BTCUSDT",
			Metadata: map[string]string{"routingkey": "order.binance.BTCUSDT", "partitionkey": "BTCUSDT"},
			Payload:  []byte(p),
		})
	}
	if err := d.Topic().SendBatch(ctx, out); err != nil {
		t.Fatal(err)
	}

	sub, err := d.Subscribe(ctx, group, pattern)
	if err != nil {
		t.Fatal(err)
	}
	// One request asks for four (max 1): both messages go into it, the
	// first is handed out, the second stays in the inbox, and the request
	// stays open for the two it did not get.
	got, err := sub.ReceiveBatch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Payload) != "0" {
		t.Fatalf("ReceiveBatch: %d messages, want message 0", len(got))
	}
	if err := sub.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, d.Stream(pattern), nats.ConsumerName(group, pattern))
	if err != nil {
		t.Fatal(err)
	}
	info := cons.CachedInfo()
	if info.Delivered.Consumer != 2 || info.Delivered.Stream != 2 || info.NumRedelivered != 0 {
		t.Errorf("after Close: delivered %+v, %d redelivered; want each of the 2 messages delivered once",
			info.Delivered, info.NumRedelivered)
	}
	if info.NumPending+uint64(info.NumAckPending) != 2 {
		t.Errorf("after Close: %d pending + %d ack pending, want 2 unacked", info.NumPending, info.NumAckPending)
	}

	next, err := d.Subscribe(ctx, group, pattern)
	if err != nil {
		t.Fatal(err)
	}
	var recv []*driver.Message
	for len(recv) < len(payloads) {
		ms, err := next.ReceiveBatch(ctx, 10)
		if err != nil {
			t.Fatalf("next member, after %d messages: %v", len(recv), err)
		}
		recv = append(recv, ms...)
	}
	ids := make([]driver.AckID, len(recv))
	for i, m := range recv {
		ids[i] = m.AckID
		if i >= len(payloads) || string(m.Payload) != payloads[i] || m.Deliveries != 2 {
			t.Errorf("next member, message %d: %q, delivery %d; want %q, delivery 2", i, m.Payload, m.Deliveries, payloads[min(i, len(payloads)-1)])
		}
	}
	if err := next.SendAcks(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if err := next.Close(ctx); err != nil {
		t.Fatalf("Close of the next member: %v", err)
	}
}
