package nats_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestPingBrokerGone: Ping fails while the connection to NATS is cut
// (through a proxy) and answers again once the connection is back; after
// Close the driver's Ping returns ErrClosed.
func TestPingBrokerGone(t *testing.T) {
	nc := connect(t)
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
	tr := newTransport(t, viaProxy, nats.WithPrefix(uniquePrefix(t, nc)))
	brokertest.CheckPing(t, tr, p, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := drv(tr).Ping(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("driver Ping after Close: %v, want ErrClosed", err)
	}
}

func BenchmarkOps(b *testing.B) {
	nc := connect(b)
	brokertest.BenchOps(b, newTransport(b, nc, nats.WithPrefix(uniquePrefix(b, nc))), "bench.#")
}

// TestLagFiltered: "kind.a.*" maps to an exact filter subject, so the
// durable consumer counts only what matches; "kind.a.#" (which matches
// "kind.a" too) maps to none, so it counts the whole kind.
func TestLagFiltered(t *testing.T) {
	nc := connect(t)
	tr := newTransport(t, nc, nats.WithPrefix(uniquePrefix(t, nc)))
	brokertest.CheckLagFiltered(t, tr, ".*", 3, 20*time.Second)
	brokertest.CheckLagFiltered(t, tr, ".#", 5, 20*time.Second)
}

// TestOpsRequests: Ping and Lag each send one request.
func TestOpsRequests(t *testing.T) {
	nc := connect(t)
	own, err := natsgo.Connect(brokertest.URL(t, envNATSURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Close)
	tr := newTransport(t, own, nats.WithPrefix(uniquePrefix(t, nc)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := tr.NewSubscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SubscribeInitialize("ops.#"); err != nil {
		t.Fatal(err)
	}
	before := own.Stats().OutMsgs
	if err := tr.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := transport.Lag(ctx, tr, "g", "ops.#"); err != nil {
		t.Fatal(err)
	}
	if n := own.Stats().OutMsgs - before; n != 2 {
		t.Errorf("Ping and Lag sent %d messages, want 2 requests", n)
	}
}
