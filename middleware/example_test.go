package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport/mem"
)

// eventually polls cond for up to 10 seconds.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// The default stack on the in-memory transport: a transient failure is
// retried, a duplicate is dropped, a malformed event goes to the poison
// queue with its reason.
func ExampleDefault() {
	tr, _ := mem.New()
	defer tr.Close(context.Background())
	pub, _ := publisher.New(tr.Publisher())

	stack, err := middleware.Default(tr.Publisher(),
		middleware.WithConsumerGroup("portfolio"),
		middleware.WithBackoff(time.Millisecond, 2, 10*time.Millisecond),
		middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	router, _ := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	router.AddMiddleware(stack.Middlewares()...)

	var calls, handled atomic.Int32
	sub, _ := tr.Subscriber("portfolio")
	_, _ = subscriber.Handle(router, sub, "trade.#", func(ctx context.Context, t events.Trade) error {
		if calls.Add(1) == 1 {
			return errors.New("database busy") // transient: retried
		}
		handled.Add(1)
		return nil
	})
	dlq, _ := tr.NewSubscriber("dlq")
	_ = dlq.SubscribeInitialize("deadletter.portfolio")
	go func() { _ = router.Run(context.Background()) }()
	<-router.Running()
	defer router.Close()

	t := events.Trade{Exchange: "binance", Symbol: "BTCUSDT", Price: events.MustDecimal("97000.5"),
		Amount: events.MustDecimal("0.01"), Side: events.SideBuy, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	msg, _ := pub.NewMessage(context.Background(), t)
	_ = tr.Publisher().Publish(t.RoutingKey(), msg, msg) // delivered twice
	bad := message.NewMessage("bad-1", []byte(`{"exchange":"binance","symbol":"BTCUSDT","price":97000.5}`))
	_ = tr.Publisher().Publish(t.RoutingKey(), bad)

	eventually(func() bool { return stack.Dedup.Stats().Duplicates == 1 && stack.Poison.Published() == 1 })
	fmt.Println("handler calls:", calls.Load(), "handled:", handled.Load(), "duplicates:", stack.Dedup.Stats().Duplicates)

	st, _ := middleware.Replay(context.Background(), dlq, nopPublisher{}, middleware.WithConsumerGroup("portfolio"),
		middleware.WithReplayIdle(100*time.Millisecond), middleware.WithLogger(slog.New(slog.DiscardHandler)),
		middleware.WithReplayFilter(func(p middleware.Poisoned) bool {
			fmt.Println("poisoned:", p.EventID, p.Class, "from", p.RoutingKey)
			return true
		}))
	fmt.Println("replayed:", st.Replayed)
	// Output:
	// handler calls: 2 handled: 1 duplicates: 1
	// poisoned: bad-1 permanent from trade.binance.BTCUSDT
	// replayed: 1
}

// Marking an error permanent: it is never retried and goes straight to the
// poison queue; the original error stays visible to errors.Is and errors.As.
func ExamplePermanent() {
	errRejected := errors.New("order rejected: unknown symbol")
	err := fmt.Errorf("executor: %w", middleware.Permanent(errRejected))
	fmt.Println(middleware.IsPermanent(err), errors.Is(err, errRejected), middleware.Classify(err))
	fmt.Println(middleware.IsPermanent(errors.New("timeout")), middleware.Permanent(nil) == nil)
	// Output:
	// true true permanent
	// false true
}

// The retry schedule before jitter.
func ExampleRetry_Delay() {
	r, _ := middleware.NewRetry(middleware.WithBackoff(100*time.Millisecond, 2, time.Second))
	fmt.Println(r.Delay(1), r.Delay(2), r.Delay(3), r.Delay(4), r.Delay(5))
	_, err := middleware.NewRetry(middleware.WithMaxAttempts(0))
	fmt.Println(errors.Is(err, middleware.ErrInvalidOption))
	// Output:
	// 100ms 200ms 400ms 800ms 1s
	// true
}

// Deduplicating on a business key (the exchange's trade id) instead of the
// event id: a feed handler that re-sent a trade under a new event id does not
// make the consumer count it twice.
func ExampleWithDedupKey() {
	d, _ := middleware.NewDedup(
		middleware.WithDedupKey(func(m *message.Message) (string, error) {
			t, err := subscriber.Decode[events.Trade](m)
			if err != nil {
				return "", err // already marked permanent
			}
			return t.Exchange + "/" + t.TradeID, nil
		}),
		middleware.WithLogger(slog.New(slog.DiscardHandler)))
	handled := 0
	h := d.Middleware(func(*message.Message) ([]*message.Message, error) { handled++; return nil, nil })

	pub, _ := publisher.New(nopPublisher{})
	t := events.Trade{Exchange: "kraken", Symbol: "ETHUSDT", TradeID: "T-1001", Price: events.MustDecimal("3500"),
		Amount: events.MustDecimal("2"), Side: events.SideSell, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	first, _ := pub.NewMessage(context.Background(), t)
	resent, _ := pub.NewMessage(context.Background(), t) // new event id, same trade
	_, err1 := h(first)
	_, err2 := h(resent)
	fmt.Println(first.UUID != resent.UUID, err1, err2, "handled:", handled, "duplicates:", d.Stats().Duplicates)

	_, err := h(message.NewMessage("garbage", []byte(`not json`)))
	fmt.Println("undecodable key is permanent:", middleware.IsPermanent(err))
	// Output:
	// true <nil> <nil> handled: 1 duplicates: 1
	// undecodable key is permanent: true
}
