package nats_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestFollowWaitsForStream: Follow of a kind whose stream does not exist
// yet keeps asking JetStream for it (its stream info requests come
// again), and passes the first message published once the publish creates
// the stream; cancelling its ctx ends it with context.Canceled.
func TestFollowWaitsForStream(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix))
	var asked atomic.Int32 // stream info requests for the stream
	sub, err := nc.Subscribe("$JS.API.STREAM.INFO."+prefix+"_trade", func(*natsgo.Msg) { asked.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	brokertest.FollowWaitsForStream(t, tr, "trade", "stream", func() bool { return asked.Load() >= 2 })
}

// BenchmarkLatency measures one message's round trip from Publish to a
// transport.Follow and, for comparison, to a subscription
// (brokertest.BenchLatency).
func BenchmarkLatency(b *testing.B) {
	nc := connect(b)
	for _, reader := range []string{"follow", "subscribe"} {
		b.Run(reader, func(b *testing.B) {
			brokertest.BenchLatency(b, newTransport(b, nc, nats.WithPrefix(uniquePrefix(b, nc))), reader)
		})
	}
}

// TestFollowThroughOutage: a follower whose connection is cut (through a
// proxy) while messages are published passes them all after the
// reconnect, in order and once each, and goes on.
func TestFollowThroughOutage(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	u, err := url.Parse(brokertest.URL(t, envNATSURL))
	if err != nil {
		t.Fatal(err)
	}
	p := brokertest.NewProxy(t, u.Host)
	u.Host = p.Addr()
	viaProxy, err := natsgo.Connect(u.String(), natsgo.MaxReconnects(-1), natsgo.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(viaProxy.Close)
	pub := newTransport(t, nc, nats.WithPrefix(prefix))
	tr := newTransport(t, viaProxy, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	publish := func(i int) {
		t.Helper()
		m := message.NewMessage("o-"+strconv.Itoa(i), []byte(strconv.Itoa(i)))
		m.Metadata.Set("partitionkey", "K")
		if err := pub.Publisher().Publish("trade.x.K", m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 64)
	done := make(chan error, 1)
	go func() {
		done <- transport.Follow(ctx, tr, "trade.#", transport.FromBeginning(), func(m *message.Message) bool {
			got <- string(m.Payload)
			return true
		})
	}()
	expect := func(i int) {
		t.Helper()
		select {
		case p := <-got:
			if p != strconv.Itoa(i) {
				t.Fatalf("Follow passed %s, want %d", p, i)
			}
		case err := <-done:
			t.Fatalf("Follow returned %v", err)
		case <-time.After(45 * time.Second):
			t.Fatalf("Follow did not pass message %d", i)
		}
	}
	publish(0)
	expect(0)
	p.Cut()
	for i := 1; i <= 5; i++ {
		publish(i)
	}
	p.Restore()
	for i := 1; i <= 5; i++ {
		expect(i)
	}
	publish(6)
	expect(6)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow after cancel: %v, want context.Canceled", err)
	}
}
