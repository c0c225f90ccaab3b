package mem_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// TestCopiesAreSeparate: the driver copies what it is sent (the caller may
// reuse its messages) and every delivery gets its own payload and
// metadata, although the copies are carved from shared buffers: appending
// to or changing one delivered message never shows in another, nor in a
// later delivery of the same message.
func TestCopiesAreSeparate(t *testing.T) {
	d, err := mem.NewDriver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	ctx := context.Background()
	sub, err := d.Subscribe(ctx, "g", "trade.#")
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	msgs := make([]*driver.Message, n)
	for i := range msgs {
		key := fmt.Sprintf("trade.binance.S%d", i)
		msgs[i] = &driver.Message{
			UUID: fmt.Sprint(i), Key: key, PartitionKey: fmt.Sprint("S", i),
			Metadata: map[string]string{events.MetaRoutingKey: key, "n": fmt.Sprint(i)},
			Payload:  []byte(fmt.Sprintf("payload-%d", i)),
		}
	}
	msgs[n-1].Payload = nil
	if err := d.Topic().SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs { // the caller reuses its messages
		for i := range m.Payload {
			m.Payload[i] = 'x'
		}
		m.Metadata["n"] = "reused"
	}
	check := func(got []*driver.Message) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("received %d messages, want %d", len(got), n)
		}
		for i, m := range got {
			want := fmt.Sprintf("payload-%d", i)
			if i == n-1 {
				if m.Payload != nil {
					t.Errorf("message %d: payload %q, want nil", i, m.Payload)
				}
				continue
			}
			if string(m.Payload) != want || m.Metadata["n"] != fmt.Sprint(i) {
				t.Errorf("message %d: payload %q metadata n=%q, want %q n=%d", i, m.Payload, m.Metadata["n"], want, i)
			}
		}
	}
	got, err := sub.ReceiveBatch(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	check(got)
	// Scribble over the deliveries, then give them back.
	ids := make([]driver.AckID, len(got))
	for i, m := range got {
		m.Payload = append(m.Payload, "-appended"...)
		if len(m.Payload) > 0 {
			m.Payload[0] = '#'
		}
		m.Metadata["n"] = "changed"
		ids[i] = m.AckID
	}
	if err := sub.SendNacks(ctx, ids); err != nil {
		t.Fatal(err)
	}
	again, err := sub.ReceiveBatch(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	check(again)
	for i, m := range got[:n-1] {
		if want := "#" + fmt.Sprintf("payload-%d", i)[1:] + "-appended"; string(m.Payload) != want {
			t.Errorf("first delivery %d: payload %q, want %q (an append wrote into a neighbour)", i, m.Payload, want)
		}
	}
	if err := sub.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMetadataHandedOver: a message whose metadata the sender handed over
// reaches its one queue's first delivery as that very map (no copy); a
// redelivery gets the metadata as sent, whatever the first delivery did
// to the map; and with two matching queues each delivery gets its own copy.
func TestMetadataHandedOver(t *testing.T) {
	d, err := mem.NewDriver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	ctx := context.Background()
	one, err := d.Subscribe(ctx, "one", "trade.#")
	if err != nil {
		t.Fatal(err)
	}
	const key = "trade.binance.BTCUSDT"
	md := map[string]string{events.MetaRoutingKey: key, "n": "1"}
	send := func(md map[string]string) {
		t.Helper()
		err := d.Topic().SendBatch(ctx, []*driver.Message{{
			UUID: "u", Key: key, PartitionKey: "BTCUSDT", Metadata: md, Payload: []byte("p"), MetadataHandedOver: true,
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	send(md)
	got, err := one.ReceiveBatch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got[0].Metadata["n"] = "changed"
	if md["n"] != "changed" {
		t.Fatalf("first delivery got a copy of the handed-over map")
	}
	if err := one.SendNacks(ctx, []driver.AckID{got[0].AckID}); err != nil {
		t.Fatal(err)
	}
	again, err := one.ReceiveBatch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Metadata["n"] != "1" {
		t.Fatalf("redelivery metadata n=%q, want the value sent, 1", again[0].Metadata["n"])
	}
	if err := one.SendAcks(ctx, []driver.AckID{again[0].AckID}); err != nil {
		t.Fatal(err)
	}

	two, err := d.Subscribe(ctx, "two", "trade.*.BTCUSDT")
	if err != nil {
		t.Fatal(err)
	}
	md2 := map[string]string{events.MetaRoutingKey: key, "n": "2"}
	send(md2)
	for _, sub := range []driver.Subscription{one, two} {
		got, err := sub.ReceiveBatch(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		got[0].Metadata["n"] = "changed"
		if md2["n"] != "2" {
			t.Fatalf("with two queues, a delivery got the sender's map")
		}
		if err := sub.SendAcks(ctx, []driver.AckID{got[0].AckID}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []driver.Subscription{one, two} {
		if err := sub.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
