package redisstream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// TestPingBrokerGone: Ping fails while the connection to Redis is cut
// (through a proxy) and answers again once it is back; after Close it
// returns ErrClosed.
func TestPingBrokerGone(t *testing.T) {
	c := newClient(t)
	p := brokertest.NewProxy(t, c.Options().Addr)
	opts := *c.Options()
	opts.Addr = p.Addr()
	viaProxy := redis.NewClient(&opts)
	t.Cleanup(func() { _ = viaProxy.Close() })
	tr := newTransport(t, viaProxy, redisstream.WithPrefix(uniquePrefix(t, c)))
	brokertest.CheckPing(t, tr, p, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := driverOf(t, tr).Ping(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("driver Ping after Close: %v, want ErrClosed", err)
	}
}

func BenchmarkOps(b *testing.B) {
	c := newClient(b)
	brokertest.BenchOps(b, newTransport(b, c, redisstream.WithPrefix(uniquePrefix(b, c))), "bench.#")
}

// TestLagFiltered: the group reads the kind's whole stream, so Lag counts
// the keys its pattern filters out too.
func TestLagFiltered(t *testing.T) {
	c := newClient(t)
	brokertest.CheckLagFiltered(t, newTransport(t, c, redisstream.WithPrefix(uniquePrefix(t, c))), 5, 20*time.Second)
}
