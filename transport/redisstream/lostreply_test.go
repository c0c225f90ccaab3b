package redisstream_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// loseReadReply makes the first XREADGROUP … > that returns entries fail
// after Redis ran it, as a connection cut between the command and its
// reply does: Redis has delivered the entries to the consumer (they are
// pending there) but the client never sees them.
type loseReadReply struct{ lost atomic.Bool }

func (h *loseReadReply) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *loseReadReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *loseReadReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		xc, ok := cmd.(*redis.XStreamSliceCmd)
		if err != nil || !ok || cmd.Name() != "xreadgroup" || !slices.Contains(cmd.Args(), any(">")) {
			return err
		}
		if res, _ := xc.Result(); len(res) > 0 && len(res[0].Messages) > 0 && h.lost.CompareAndSwap(false, true) {
			err = errors.New("injected: reply lost with the connection")
			cmd.SetErr(err)
		}
		return err
	}
}

// TestLostReadReply: entries Redis delivered to this consumer by an
// XREADGROUP whose reply was lost (connection cut) still reach the
// handler while the subscription lives. Before the fix they stayed
// pending on the consumer, renewed by its own heartbeat, and no member
// ever claimed them: AsyncOutage found confirmed events that never
// arrived.
func TestLostReadReply(t *testing.T) {
	c := newClient(t)
	opts := *c.Options()
	hooked := redis.NewClient(&opts)
	t.Cleanup(func() { _ = hooked.Close() })
	h := &loseReadReply{}
	hooked.AddHook(h)
	tr := newTransport(t, hooked, redisstream.WithPrefix(uniquePrefix(t, c)), redisstream.WithBlock(100*time.Millisecond))
	ch := brokertest.Subscribe(t, tr, "g", "trade.#")
	sent := brokertest.Publish(t, tr, "trade.binance.BTCUSDT", "a", "b")
	for i := range sent {
		m := brokertest.Recv(t, ch, 15*time.Second)
		if m.UUID != sent[i].UUID {
			t.Errorf("message %d: %s, want %s", i, m.UUID, sent[i].UUID)
		}
		m.Ack()
	}
	if !h.lost.Load() {
		t.Fatal("no reply was lost: the test did not test anything")
	}
}
