package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

var quiet = slog.New(slog.DiscardHandler)

func newMem(tb testing.TB, opts ...mem.Option) *transport.Portable {
	tb.Helper()
	tr, err := mem.New(append([]mem.Option{mem.WithRedeliveryBackoff(time.Millisecond, 20*time.Millisecond)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	return tr
}

// startRouter runs r until the test ends.
func startRouter(tb testing.TB, r *message.Router) {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	<-r.Running()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := r.Close(); err != nil {
				tb.Error(err)
			}
			if err := <-done; err != nil {
				tb.Error(err)
			}
		})
	}
	tb.Cleanup(stop)
}

func trade(i int) events.Trade {
	exchanges := []string{"binance", "kraken"}
	symbols := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "BNBUSDT", "LTCUSDT", "DOTUSDT", "AVAXUSDT"}
	return events.Trade{
		Exchange: exchanges[i%2],
		Symbol:   symbols[(i/2)%len(symbols)],
		TradeID:  fmt.Sprintf("t-%d", i),
		Price:    events.MustDecimal(fmt.Sprintf("%d.25", 100+i%1000)),
		Amount:   events.MustDecimal("0.001"),
		Side:     events.SideBuy,
		Time:     time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC),
	}
}

var numericPrice = regexp.MustCompile(`"price":"([0-9.]+)"`)

// malform turns the price into a JSON number: the strict decoder rejects it
// (no float may smuggle into a price), a "fixed" consumer accepts it.
func malform(payload []byte) []byte { return numericPrice.ReplaceAll(payload, []byte(`"price":$1`)) }

func unmalform(payload []byte) []byte {
	return regexp.MustCompile(`"price":([0-9.]+)`).ReplaceAll(payload, []byte(`"price":"$1"`))
}

// The proof of issue 3: 10,000 events on transport/mem, 1% malformed, 5%
// failing transiently once or twice, 2% delivered twice.
func TestProof(t *testing.T) {
	const (
		n     = 10_000
		group = "proof"
	)
	malformed := func(i int) bool { return i%100 == 7 } // 100
	transient := func(i int) int {                      // 500: fail 1 or 2 times
		if i%20 == 3 {
			return 1 + (i/20)%2
		}
		return 0
	}
	twice := func(i int) bool { return i%50 == 11 } // 200

	tr := newMem(t)
	pub, err := publisher.New(tr.Publisher(), publisher.WithSource("/proof"))
	if err != nil {
		t.Fatal(err)
	}
	dlqSub, _ := tr.NewSubscriber("dlq")
	if err := dlqSub.SubscribeInitialize("deadletter." + group); err != nil {
		t.Fatal(err)
	}
	store, _ := middleware.NewMemoryStore()
	newStack := func() *middleware.Stack {
		s, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(group), middleware.WithDedupStore(store),
			middleware.WithBackoff(time.Millisecond, 2, 10*time.Millisecond), middleware.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	var mu sync.Mutex
	handled := make(map[string]int)  // trade id -> successful handlings
	attempts := make(map[string]int) // trade id -> handler calls
	var lastProgress atomic.Int64
	handle := func(ctx context.Context, tr events.Trade) error {
		if env, ok := events.EnvelopeFromContext(ctx); !ok || env.ID == "" || env.CorrelationID == "" {
			return errors.New("no envelope in ctx")
		}
		var i int
		_, _ = fmt.Sscanf(tr.TradeID, "t-%d", &i)
		mu.Lock()
		defer mu.Unlock()
		attempts[tr.TradeID]++
		if attempts[tr.TradeID] <= transient(i) {
			return fmt.Errorf("venue timeout on %s", tr.TradeID)
		}
		handled[tr.TradeID]++
		lastProgress.Store(time.Now().UnixNano())
		return nil
	}

	// Phase 1: the strict consumer.
	sub, _ := tr.Subscriber(group)
	r1, _ := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
	stack1 := newStack()
	r1.AddMiddleware(stack1.Middlewares()...)
	if _, err := subscriber.Handle(r1, sub, "trade.#", handle, subscriber.WithName("strict")); err != nil {
		t.Fatal(err)
	}
	startRouter(t, r1)

	ctx := context.Background()
	sent := 0
	for i := range n {
		msg, err := pub.NewMessage(ctx, trade(i))
		if err != nil {
			t.Fatal(err)
		}
		if malformed(i) {
			msg.Payload = malform(msg.Payload)
			if bytes.Contains(msg.Payload, []byte(`"price":"`)) {
				t.Fatal("malform did nothing")
			}
		}
		copies := 1
		if twice(i) {
			copies = 2
		}
		for range copies {
			if err := tr.Publisher().Publish(msg.Metadata.Get(events.MetaRoutingKey), msg); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	if sent != n+200 {
		t.Fatalf("sent %d", sent)
	}

	valid := n - 100
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		done := len(handled)
		mu.Unlock()
		if done == valid && stack1.Poison.Published() == 100 && stack1.Dedup.Stats().Duplicates == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stalled: handled %d of %d, poisoned %d, dedup %+v", done, valid, stack1.Poison.Published(), stack1.Dedup.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	for i := range n {
		id := fmt.Sprintf("t-%d", i)
		switch {
		case malformed(i):
			if handled[id] != 0 {
				t.Errorf("malformed %s handled", id)
			}
		case handled[id] != 1:
			t.Errorf("%s handled %d times", id, handled[id])
		case attempts[id] != 1+transient(i):
			t.Errorf("%s attempted %d times, want %d", id, attempts[id], 1+transient(i))
		}
	}
	mu.Unlock()
	if st := stack1.Dedup.Stats(); st.Duplicates != 200 || st.Processed != uint64(valid) {
		t.Fatalf("dedup stats %+v", st)
	}

	// Phase 2: deploy the fix (a consumer that accepts numeric prices) in
	// place of the strict one, then replay the poison queue.
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	sub2, _ := tr.Subscriber(group)
	r2, _ := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
	stack2 := newStack()
	r2.AddMiddleware(stack2.Middlewares()...)
	r2.AddConsumerHandler("fixed", "trade.#", sub2, func(msg *message.Message) error {
		fixed := msg.Copy()
		fixed.Payload = unmalform(msg.Payload)
		ev, err := subscriber.Decode[events.Trade](fixed)
		if err != nil {
			return err
		}
		return handle(msg.Context(), ev)
	})
	startRouter(t, r2)

	var poisoned []middleware.Poisoned
	st, err := middleware.Replay(ctx, dlqSub, tr.Publisher(), middleware.WithConsumerGroup(group),
		middleware.WithReplayIdle(300*time.Millisecond), middleware.WithLogger(quiet),
		middleware.WithReplayFilter(func(p middleware.Poisoned) bool {
			poisoned = append(poisoned, p)
			return true
		}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Replayed != 100 || len(poisoned) != 100 {
		t.Fatalf("replay %+v, saw %d", st, len(poisoned))
	}
	for _, p := range poisoned {
		if p.Class != middleware.ClassPermanent || p.Attempts != 1 || p.Group != group || p.Handler != "strict" ||
			!strings.Contains(p.Reason, "a decimal must be a JSON string") || !strings.HasPrefix(p.RoutingKey, "trade.") || p.Type != events.TypeTrade {
			t.Fatalf("poisoned %+v", p)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		done := len(handled)
		mu.Unlock()
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replayed events not handled: %d of %d", done, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	for id, c := range handled {
		if c != 1 {
			t.Errorf("%s handled %d times", id, c)
		}
	}
	mu.Unlock()
	if stack2.Poison.Published() != 0 {
		t.Fatalf("fixed consumer poisoned %d", stack2.Poison.Published())
	}
	// Nothing is left in the poison queue.
	st, err = middleware.Replay(ctx, dlqSub, tr.Publisher(), middleware.WithConsumerGroup(group),
		middleware.WithReplayIdle(100*time.Millisecond), middleware.WithLogger(quiet))
	if err != nil || st != (middleware.ReplayStats{}) {
		t.Fatalf("poison queue not empty: %+v %v", st, err)
	}
}
