package nats_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

// viaProxy returns a proxy to the test NATS and a connection through it,
// closed at cleanup.
func viaProxy(t *testing.T) (*brokertest.Proxy, *natsgo.Conn) {
	t.Helper()
	u, err := url.Parse(brokertest.URL(t, envNATSURL))
	if err != nil {
		t.Fatal(err)
	}
	p := brokertest.NewProxy(t, u.Host)
	u.Host = p.Addr()
	pc, err := natsgo.Connect(u.String(), natsgo.MaxReconnects(-1), natsgo.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Close)
	return p, pc
}

// waitInfo polls the consumer's info until cond holds, for at most 60s.
func waitInfo(t *testing.T, c jetstream.Consumer, what string, cond func(*jetstream.ConsumerInfo) bool) *jetstream.ConsumerInfo {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		info, err := c.Info(ctx)
		cancel()
		if err != nil {
			t.Fatalf("consumer info: %v", err)
		}
		if cond(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loseDeliveries holds the proxy between a subscription and the server,
// publishes n messages of one key (from pub, not through the proxy) that
// JetStream delivers into the subscription's open pull request and that
// stay held, and then cuts the proxy: JetStream counts them delivered, the
// subscription never got them. If the pull request expired before they
// were delivered, the proxy is released, they are received and acked, and
// it tries again. It returns the lost messages' payloads, and restores the
// proxy.
func loseDeliveries(t *testing.T, p *brokertest.Proxy, pub transport.Transport, c jetstream.Consumer, ch <-chan *message.Message, n int) []string {
	t.Helper()
	return loseDeliveriesBeside(t, p, pub, c, ch, n, 0)
}

// loseDeliveriesBeside is loseDeliveries while other members hold others
// unacked messages.
func loseDeliveriesBeside(t *testing.T, p *brokertest.Proxy, pub transport.Transport, c jetstream.Consumer, ch <-chan *message.Message, n, others int) []string {
	t.Helper()
	for round := 0; ; round++ {
		waitInfo(t, c, "a pull request open, nothing unacked", func(i *jetstream.ConsumerInfo) bool {
			return i.NumWaiting > 0 && i.NumAckPending == others
		})
		p.Hold()
		var payloads []string
		for i := range n {
			payloads = append(payloads, fmt.Sprintf("lost%d-%d", round, i))
		}
		brokertest.Publish(t, pub, "order.binance.BTCUSDT", payloads...)
		info := waitInfo(t, c, "the messages delivered, or the pull request expired", func(i *jetstream.ConsumerInfo) bool {
			return i.NumAckPending == others+n || (i.NumWaiting == 0 && i.NumPending == uint64(n))
		})
		t.Logf("round %d: %d delivered and unacked, %d undelivered, %d pull requests waiting", round, info.NumAckPending, info.NumPending, info.NumWaiting)
		if info.NumAckPending == others+n {
			p.Cut()
			p.Restore()
			return payloads
		}
		p.Release()
		for range n {
			brokertest.Recv(t, ch, 60*time.Second).Ack()
		}
	}
}

// TestReconnectKeepsKeyOrder: messages JetStream delivered into a pull
// request just as the connection was cut come back after the reconnect
// ahead of the newer messages of their key — not after AckWait (an hour
// here), behind them. With a pull wait of 10s nats.go asks for idle
// heartbeats, and the pull request the cut left ends with an error
// instead of its expiry.
func TestReconnectKeepsKeyOrder(t *testing.T) {
	for _, wait := range []time.Duration{2 * time.Second, 10 * time.Second} {
		t.Run(fmt.Sprint("pull_wait=", wait), func(t *testing.T) {
			nc := connect(t)
			prefix := uniquePrefix(t, nc)
			p, pc := viaProxy(t)
			tr := newTransportWith(t, pc, []transport.Option{transport.WithCloseTimeout(2 * time.Second)},
				nats.WithPrefix(prefix), nats.WithPullWait(wait), nats.WithAckWait(time.Hour))
			pub := newTransport(t, nc, nats.WithPrefix(prefix))
			ch := brokertest.Subscribe(t, tr, "g", "order.#")
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			c := consumerOf(t, js, drv(tr).Stream("order"))

			want := loseDeliveries(t, p, pub, c, ch, 5)
			want = append(want, "after")
			// Back, with its subscriptions, before "after" is published:
			// JetStream may deliver it into the pull request the
			// subscription had open before the cut (the request's reply
			// subject has a subscriber again).
			waitFor(t, "the reconnect", func() bool { return pc.Stats().Reconnects > 0 && pc.FlushTimeout(10*time.Second) == nil })
			brokertest.Publish(t, pub, "order.binance.BTCUSDT", "after")
			seen := map[string]bool{}
			var got []string
			for len(got) < len(want) {
				m := brokertest.Recv(t, ch, 60*time.Second)
				m.Ack()
				if !seen[m.UUID] {
					seen[m.UUID] = true
					got = append(got, string(m.Payload))
				}
				if string(m.Payload) == "after" && len(got) < len(want) {
					t.Fatalf("%q arrived after only %v of %v (the cut lost the rest)", "after", got[:len(got)-1], want[:len(want)-1])
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("received %v, want %v", got, want)
			}
			if n := nats.Recovered(drv(tr)); n < 5 {
				t.Errorf("rewound %d sequences after the reconnect, want at least the 5 lost", n)
			}
		})
	}
}

// TestReconnectLeavesLiveMembers: after a reconnect that lost deliveries,
// a member that is not alone in its consumer NAKs nothing — another
// member (played here by a raw JetStream client) holds an unacked
// message and answers on the presence subject — so that message stays
// with its holder, whose ack still settles it.
func TestReconnectLeavesLiveMembers(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	p, pc := viaProxy(t)
	tr := newTransportWith(t, pc, []transport.Option{transport.WithCloseTimeout(2 * time.Second)},
		nats.WithPrefix(prefix), nats.WithPullWait(2*time.Second), nats.WithAckWait(time.Hour))
	pub := newTransport(t, nc, nats.WithPrefix(prefix))
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("order.#"); err != nil {
		t.Fatal(err)
	}
	brokertest.Publish(t, pub, "order.binance.BTCUSDT", "held")

	other := connect(t)
	js, err := jetstream.New(other)
	if err != nil {
		t.Fatal(err)
	}
	c := consumerOf(t, js, drv(tr).Stream("order"))
	b, err := c.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	held, ok := <-b.Messages()
	if !ok {
		t.Fatalf("the other member got nothing: %v", b.Error())
	}
	var asked atomic.Int64
	presence, err := other.Subscribe("_TRADEBUS.LIVE."+drv(tr).Stream("order")+"."+c.CachedInfo().Name, func(m *natsgo.Msg) {
		asked.Add(1)
		_ = m.Respond(nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer presence.Unsubscribe()
	if err := other.Flush(); err != nil {
		t.Fatal(err)
	}

	ch := brokertest.Subscribe(t, tr, "g", "order.#")
	loseDeliveriesBeside(t, p, pub, c, ch, 5, 1)
	before := asked.Load()
	f0, _ := nats.ReadStats(drv(tr))
	waitFor(t, "the member to ask for live members after the reconnect", func() bool { return asked.Load() > before })
	waitFor(t, "the member to pull again", func() bool { f, _ := nats.ReadStats(drv(tr)); return f > f0 })
	if n := nats.Recovered(drv(tr)); n != 0 {
		t.Errorf("rewound %d sequences while another member lives", n)
	}
	if err := held.DoubleAck(context.Background()); err != nil {
		t.Errorf("the other member's ack of its held message: %v", err)
	}
}

// waitFor polls cond until it holds, for at most 60s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
