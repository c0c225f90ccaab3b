package middleware_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
)

var errLimit = errors.New("over the risk limit")

// counts is how often each trade id was handled.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) inc(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[id]++
	return c.n[id]
}

func (c *counts) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Issue 10 item 3: risk and portfolio both handle trade.binance.BTCUSDT;
// risk dead-letters an event; replaying it reaches risk alone, on the
// Watermill router (risk) and on the fast path (portfolio), and the dead
// letter names risk's subscription group. Ordering makes the check exact:
// a sentinel of the same partition key published after the replay reaches
// portfolio only after the replayed event would have.
func TestReplayReachesOnlyTheFailingGroup(t *testing.T) {
	tr := newMem(t)
	pub, _ := publisher.New(tr.Publisher())
	dlq, _ := tr.Subscriber("dlq")

	risk, portfolio := &counts{n: map[string]int{}}, &counts{n: map[string]int{}}
	riskStack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("risk"),
		middleware.WithPoisonKept(dlq), middleware.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
	r.AddMiddleware(riskStack.Middlewares()...)
	riskSub, _ := tr.Subscriber("risk")
	if _, err := subscriber.Handle(r, riskSub, "trade.binance.BTCUSDT", func(_ context.Context, tr events.Trade) error {
		if risk.inc(tr.TradeID) == 1 && tr.TradeID == "bad" {
			return middleware.Permanent(errLimit)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	startRouter(t, r)

	// Without dedup: its in-memory record would hide a second delivery
	// here, but not after a restart or once its TTL passed.
	pfStack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("portfolio"),
		middleware.WithoutDedup(), middleware.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	pfSub, _ := tr.Subscriber("portfolio")
	g, _ := subscriber.NewGroup(pfSub, pfStack.Middlewares()...)
	_ = subscriber.On(g, "trade.binance.BTCUSDT", func(_ context.Context, tr events.Trade) error {
		portfolio.inc(tr.TradeID)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})
	<-g.Running()

	bad := trade(0)
	bad.TradeID = "bad"
	if err := pub.Publish(ctx, bad); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the dead letter", func() bool { return riskStack.Poison.Published() == 1 && portfolio.get("bad") == 1 })

	var listed []middleware.Poisoned
	if err := middleware.ListPoisoned(ctx, tr, "dlq", func(p middleware.Poisoned) bool {
		listed = append(listed, p)
		return true
	}, middleware.WithConsumerGroup("risk")); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].SubscriberGroup != "risk" || listed[0].Group != "risk" ||
		listed[0].Message.Metadata.Get(middleware.MetaReplayGroup) != "" {
		t.Fatalf("listed %+v", listed)
	}

	st, err := middleware.Replay(ctx, dlq, tr.Publisher(), middleware.WithConsumerGroup("risk"),
		middleware.WithReplayLimit(1), middleware.WithReplayIdle(time.Minute), middleware.WithLogger(quiet))
	if err != nil || st.Replayed != 1 {
		t.Fatalf("replay %+v %v", st, err)
	}
	waitUntil(t, "risk to handle the replay", func() bool { return risk.get("bad") == 2 })

	after := trade(0)
	after.TradeID = "after"
	if err := pub.Publish(ctx, after); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the sentinel", func() bool { return portfolio.get("after") == 1 && risk.get("after") == 1 })
	if n := portfolio.get("bad"); n != 1 {
		t.Fatalf("portfolio handled the replayed event %d times, want 1 (only the original)", n)
	}
	if n := risk.get("bad"); n != 2 {
		t.Fatalf("risk handled the event %d times, want 2 (failed, replayed)", n)
	}
	if n := riskStack.Poison.Published(); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
}
