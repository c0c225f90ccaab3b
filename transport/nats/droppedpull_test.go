package nats_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestDroppedPullRequestDoesNotStall: a pull request the server drops
// without the status that ends it (nats-server 2.9.10 does, now and then)
// leaves the subscription counting messages that will never come. The
// requests ask for idle heartbeats, so an inbox silent for two and a half
// heartbeats means nothing is open: the subscription pulls again at once
// instead of waiting out the request's expiry and the grace after it (5 s
// + 1 s here; 1 + 1 s at the default pull wait, a stall a market-data
// stream must not have).
func TestDroppedPullRequestDoesNotStall(t *testing.T) {
	nc := connect(t)
	if nats.PullHeartbeat(time.Second, nc.ConnectedServerVersion()) == 0 {
		t.Skipf("nats-server %s sends no idle heartbeats for pull requests (2.9 and later do)", nc.ConnectedServerVersion())
	}
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(5*time.Second))
	d := drv(tr)
	if err := nats.LosePulls(d, 1); err != nil { // the subscription's first request
		t.Fatal(err)
	}
	ch := brokertest.Subscribe(t, tr, "risk", "trade.#")
	brokertest.Publish(t, tr, "trade.binance.BTCUSDT", "after-the-lost-request")
	m := brokertest.Recv(t, ch, 30*time.Second)
	if string(m.Payload) != "after-the-lost-request" {
		t.Fatalf("received %q", m.Payload)
	}
	m.Ack()
	if n := nats.Silenced(d); n == 0 {
		t.Error("the message came through the request's expiry, not through the silent inbox")
	}
}

func TestPullHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		wait    time.Duration
		version string
		want    time.Duration
	}{
		{time.Second, "2.9.10", 100 * time.Millisecond},
		{time.Minute, "2.10.22", 100 * time.Millisecond},
		{100 * time.Millisecond, "2.11.0", 25 * time.Millisecond},
		{time.Second, "3.0.0", 100 * time.Millisecond},
		{time.Second, "2.8.4", 0},
		{time.Second, "1.4.1", 0},
		{time.Second, "", 0},
	} {
		if got := nats.PullHeartbeat(tc.wait, tc.version); got != tc.want {
			t.Errorf("PullHeartbeat(%s, %q) = %s, want %s", tc.wait, tc.version, got, tc.want)
		}
	}
}

// TestSilenceResetsOncePerExpiry: after the requests were forgotten for a
// silent inbox they might still live and deliver until their expiry, so a
// second silence in that time does not forget the next request too (the
// inbox channel has room for one such set, not two: nats.go drops what
// does not fit). Two requests lost in a row: the message comes only after
// the first one's expiry, through the second silence or the expiry.
func TestSilenceResetsOncePerExpiry(t *testing.T) {
	nc := connect(t)
	if nats.PullHeartbeat(time.Second, nc.ConnectedServerVersion()) == 0 {
		t.Skipf("nats-server %s sends no idle heartbeats for pull requests (2.9 and later do)", nc.ConnectedServerVersion())
	}
	const wait = 3 * time.Second
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(wait))
	d := drv(tr)
	if err := nats.LosePulls(d, 2); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ch := brokertest.Subscribe(t, tr, "risk", "trade.#")
	brokertest.Publish(t, tr, "trade.binance.BTCUSDT", "m")
	brokertest.Recv(t, ch, 30*time.Second).Ack()
	if took := time.Since(start); took < wait {
		t.Errorf("received %s after subscribing: the second lost request was forgotten before the first one's expiry (%s)", took, wait)
	}
}
