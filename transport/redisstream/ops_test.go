package redisstream_test

import (
	"context"
	"errors"
	"sync/atomic"
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
	viaProxy := clientTo(t, p.Addr())
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
	brokertest.CheckLagFiltered(t, newTransport(t, c, redisstream.WithPrefix(uniquePrefix(t, c))), ".*", 5, 20*time.Second)
}

// countHook counts the commands a client sends.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// TestOpsCommands: Ping is one PING, Lag one XINFO GROUPS.
func TestOpsCommands(t *testing.T) {
	c := newClient(t)
	counted := clientTo(t, c.Options().Addr)
	hook := &countHook{}
	counted.AddHook(hook)
	tr := newTransport(t, counted, redisstream.WithPrefix(uniquePrefix(t, c)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := tr.NewSubscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SubscribeInitialize("ops.#"); err != nil {
		t.Fatal(err)
	}
	before := hook.n.Load()
	if err := tr.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := transport.Lag(ctx, tr, "g", "ops.#"); err != nil {
		t.Fatal(err)
	}
	if n := hook.n.Load() - before; n != 2 {
		t.Errorf("Ping and Lag sent %d commands, want 2", n)
	}
}

// TestLagGivenBackStaysInFlight: entries a member received and gave back
// at Close stay in the group's pending entries list (Redis cannot
// un-deliver them), so Lag reports them in flight, not pending, until
// they are redelivered and acked.
func TestLagGivenBackStaysInFlight(t *testing.T) {
	c := newClient(t)
	tr := newTransport(t, c, redisstream.WithPrefix(uniquePrefix(t, c)), redisstream.WithBlock(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := tr.NewSubscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SubscribeInitialize("ops.#"); err != nil {
		t.Fatal(err)
	}
	brokertest.Publish(t, tr, "ops.x.A", "1", "2", "3")
	sctx, stop := context.WithCancel(ctx)
	ch, err := sub.Subscribe(sctx, "ops.#")
	if err != nil {
		t.Fatal(err)
	}
	held := brokertest.Recv(t, ch, 20*time.Second) // one partition key: the others wait behind it
	stop()
	held.Nack()
	for m := range ch {
		m.Nack()
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := transport.Lag(ctx, tr, "g", "ops.#")
	if err != nil {
		t.Fatal(err)
	}
	if l.Unacked != 3 || l.Pending+l.InFlight != 3 || l.InFlight < 1 {
		t.Errorf("Lag after the member gave everything back: %+v, want 3 unacked, at least the held one in flight", l)
	}
}

// clientTo returns a client of its own (options parsed anew, not shared)
// for the test Redis reached at addr, closed at cleanup.
func clientTo(t *testing.T, addr string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(brokertest.URL(t, envRedisURL))
	if err != nil {
		t.Fatal(err)
	}
	opts.Addr = addr
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
