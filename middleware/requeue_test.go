package middleware_test

import (
	"context"
	"fmt"
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

// Requeue mode on mem: a slow-to-recover event is requeued instead of
// holding its partition; later events of the same symbol pass it; another
// group subscribed to the same key ignores the requeued copies.
func TestRequeueEndToEnd(t *testing.T) {
	tr := newMem(t)
	pub, _ := publisher.New(tr.Publisher())
	newRouter := func(group string, handle subscriber.Func[events.Trade]) *middleware.Stack {
		s, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(group), middleware.WithLogger(quiet),
			middleware.WithMaxAttempts(2), middleware.WithJitter(0), middleware.WithBackoff(5*time.Millisecond, 2, 50*time.Millisecond),
			middleware.WithRequeue(tr.Publisher(), 3))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
		r.AddMiddleware(s.Middlewares()...)
		sub, _ := tr.Subscriber(group)
		if _, err := subscriber.Handle(r, sub, "trade.#", handle, subscriber.WithName("h")); err != nil {
			t.Fatal(err)
		}
		startRouter(t, r)
		return s
	}
	var mu sync.Mutex
	var order []string
	execCalls := map[string]int{}
	auditSeen := map[string]int{}
	newRouter("exec", func(ctx context.Context, tr events.Trade) error {
		mu.Lock()
		defer mu.Unlock()
		execCalls[tr.TradeID]++
		if tr.TradeID == "t-0" && execCalls[tr.TradeID] <= 5 { // 2 attempts per delivery: needs 2 requeues
			return fmt.Errorf("venue down")
		}
		order = append(order, tr.TradeID)
		return nil
	})
	audit := newRouter("audit", func(ctx context.Context, tr events.Trade) error {
		mu.Lock()
		defer mu.Unlock()
		auditSeen[tr.TradeID]++
		return nil
	})
	// t-0, t-2, t-4 have the same symbol (BTCUSDT on binance).
	for _, i := range []int{0, 20, 40} {
		if err := pub.Publish(context.Background(), trade(i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(order)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %v", order)
		}
		time.Sleep(2 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if order[2] != "t-0" || execCalls["t-0"] != 6 {
		t.Fatalf("order %v, t-0 calls %d", order, execCalls["t-0"])
	}
	if auditSeen["t-0"] != 1 || auditSeen["t-20"] != 1 || auditSeen["t-40"] != 1 {
		t.Fatalf("audit group saw %v", auditSeen)
	}
	if d := audit.Dedup.Stats().Duplicates; d != 0 {
		t.Fatalf("audit treated requeued copies as duplicates (%d): they should be skipped before", d)
	}
}
