package nats_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

// consumerOf returns the only durable consumer of stream, as a JetStream
// client on nc sees it.
func consumerOf(t *testing.T, js jetstream.JetStream, stream string) jetstream.Consumer {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range st.ConsumerNames(ctx).Name() {
		names = append(names, n)
	}
	if len(names) != 1 {
		t.Fatalf("consumers of %s: %v", stream, names)
	}
	c, err := st.Consumer(ctx, names[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTakeOverInStreamOrder plays a member that pulled ten events of one
// key, had the newest five queued for redelivery newest first (as
// JetStream does when their AckWait runs out in that order, or as NAKs
// sent in that order do) and died with the rest unacked. The next member
// must get all ten in stream order, at once (AckWait is the default 30s).
func TestTakeOverInStreamOrder(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("order.#"); err != nil {
		t.Fatal(err)
	}
	var payloads []string
	for i := range 10 {
		payloads = append(payloads, strconv.Itoa(i))
	}
	brokertest.Publish(t, tr, "order.binance.BTCUSDT", payloads...)

	gone := connect(t)
	js, _ := jetstream.New(gone)
	b, err := consumerOf(t, js, drv(tr).Stream("order")).Fetch(10, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var pulled []jetstream.Msg
	for m := range b.Messages() {
		pulled = append(pulled, m)
	}
	if len(pulled) != 10 {
		t.Fatalf("pulled %d, want 10 (%v)", len(pulled), b.Error())
	}
	for i := 9; i >= 5; i-- {
		if err := pulled[i].Nak(); err != nil {
			t.Fatal(err)
		}
	}
	if err := gone.Flush(); err != nil {
		t.Fatal(err)
	}
	gone.Close()

	ch := brokertest.Subscribe(t, tr, "g", "order.#")
	for i := range 10 {
		m := brokertest.Recv(t, ch, 10*time.Second)
		if string(m.Payload) != payloads[i] {
			t.Fatalf("message %d: got %q, want %q", i, m.Payload, payloads[i])
		}
		m.Ack()
	}
	if n := nats.Rewound(drv(tr)); n != 10 {
		t.Errorf("rewound %d sequences, want 10", n)
	}
}

// TestTakeOverLeavesLiveMembers checks that a member joining a group whose
// live member holds an unacked message does not take it over: the live
// member answers on the presence subject, nothing is NAKed, and its ack
// still settles the message.
func TestTakeOverLeavesLiveMembers(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	opts := []nats.Option{nats.WithPrefix(prefix), nats.WithPullWait(100 * time.Millisecond)}
	a := newTransport(t, nc, opts...)
	chA := brokertest.Subscribe(t, a, "g", "order.#")
	brokertest.Publish(t, a, "order.binance.BTCUSDT", "held")
	held := brokertest.Recv(t, chA, 10*time.Second)

	b := newTransport(t, connect(t), opts...)
	chB := brokertest.Subscribe(t, b, "g", "order.#")
	if n := nats.Rewound(drv(b)); n != 0 {
		t.Fatalf("the new member rewound %d sequences while the holder lives", n)
	}
	held.Ack()
	next := brokertest.Publish(t, a, "order.binance.BTCUSDT", "next")
	var m *message.Message
	select {
	case m = <-chA:
	case m = <-chB:
	case <-time.After(10 * time.Second):
		t.Fatal("next not delivered")
	}
	if m.UUID != next[0].UUID {
		t.Fatalf("got %s (%s), want next", m.UUID, m.Payload)
	}
	m.Ack()
}

// TestTakeOverSilentMember checks that a subscriber of the presence
// subject that never answers — a member whose connection the server has
// not yet found dead — does not keep its messages from the next member:
// after the presence wait, they are taken over, in order.
func TestTakeOverSilentMember(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("order.#"); err != nil {
		t.Fatal(err)
	}
	brokertest.Publish(t, tr, "order.binance.BTCUSDT", "0", "1", "2")

	gone := connect(t)
	js, _ := jetstream.New(gone)
	cons := consumerOf(t, js, drv(tr).Stream("order"))
	b, err := cons.Fetch(3, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range b.Messages() {
		n++
	}
	if n != 3 {
		t.Fatalf("pulled %d, want 3 (%v)", n, b.Error())
	}
	silent, err := gone.SubscribeSync("_TRADEBUS.LIVE." + drv(tr).Stream("order") + "." + cons.CachedInfo().Name)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Unsubscribe()
	if err := gone.Flush(); err != nil {
		t.Fatal(err)
	}

	ch := brokertest.Subscribe(t, tr, "g", "order.#")
	if _, err := silent.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the new member did not ask: %v", err)
	}
	for i := range 3 {
		m := brokertest.Recv(t, ch, 10*time.Second)
		if want := strconv.Itoa(i); string(m.Payload) != want {
			t.Fatalf("message %d: got %q, want %q", i, m.Payload, want)
		}
		m.Ack()
	}
	if nats.Rewound(drv(tr)) == 0 {
		t.Error("nothing taken over")
	}
}
