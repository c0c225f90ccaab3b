package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport/mem"
)

// runGroup runs g until the test ends and waits for Running.
func runGroup(t *testing.T, g *subscriber.Group) { t.Helper(); runGroupIn(t, context.Background(), g) }

// runGroupIn is runGroup under parent.
func runGroupIn(t *testing.T, parent context.Context, g *subscriber.Group) {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case <-g.Running():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
}

// TestGroupFastPath: typed handlers on the fast path get every event, each
// symbol in order; a handler error redelivers before the symbol goes on;
// middleware wraps every handler, first outermost.
func TestGroupFastPath(t *testing.T) {
	tr, err := mem.New(mem.WithRedeliveryBackoff(time.Millisecond, 5*time.Millisecond), mem.WithBuffer(1<<14))
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()
	pub, err := publisher.New(tr.Publisher())
	require.NoError(t, err)
	sub, err := tr.Subscriber("strategy")
	require.NoError(t, err)

	var (
		mu    sync.Mutex
		trail []string // middleware order of the first message
		first string   // its UUID
		last  = map[string]int{}
		got   int
		fails = map[string]bool{}
	)
	tag := func(name string) message.HandlerMiddleware {
		return func(h message.HandlerFunc) message.HandlerFunc {
			return func(msg *message.Message) ([]*message.Message, error) {
				mu.Lock()
				if first == "" {
					first = msg.UUID
				}
				if msg.UUID == first && len(trail) < 2 {
					trail = append(trail, name)
				}
				mu.Unlock()
				return h(msg)
			}
		}
	}
	g, err := subscriber.NewGroup(sub, tag("outer"), tag("inner"))
	require.NoError(t, err)
	allDone := make(chan struct{})
	const symbols, perSymbol = 8, 100
	require.NoError(t, subscriber.On(g, "trade.#", func(ctx context.Context, ev events.Trade) error {
		seq, _ := strconv.Atoi(ev.TradeID)
		env, ok := events.EnvelopeFromContext(ctx)
		if !ok || env.Type != ev.EventType() {
			return fmt.Errorf("no envelope in ctx")
		}
		mu.Lock()
		defer mu.Unlock()
		if seq == 50 && !fails[ev.Symbol] {
			fails[ev.Symbol] = true
			return errors.New("transient") // redelivered, in order
		}
		if prev, ok := last[ev.Symbol]; ok && seq != prev+1 {
			t.Errorf("%s: %d after %d", ev.Symbol, seq, prev)
		}
		last[ev.Symbol] = seq
		if got++; got == symbols*perSymbol {
			close(allDone)
		}
		return nil
	}))
	runGroup(t, g)

	batch := make([]events.Event, 0, symbols)
	for i := range perSymbol {
		batch = batch[:0]
		for s := range symbols {
			batch = append(batch, trade("binance", fmt.Sprintf("SYM%d", s), strconv.Itoa(i)))
		}
		require.NoError(t, pub.Publish(context.Background(), batch...))
	}
	select {
	case <-allDone:
	case <-time.After(time.Minute):
		t.Fatal("not every event handled within a minute")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"outer", "inner"}, trail)
	require.Len(t, fails, symbols)
}

// TestGroupDefaultStack: the reliability stack runs unchanged on the fast
// path: a malformed event goes to the poison topic at once, never retried.
func TestGroupDefaultStack(t *testing.T) {
	tr, err := mem.New()
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()
	stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("risk"))
	require.NoError(t, err)
	dlqSub, err := tr.Subscriber("dlq")
	require.NoError(t, err)
	dlqCtx, dlqCancel := context.WithCancel(context.Background())
	defer dlqCancel()
	dead, err := dlqSub.Subscribe(dlqCtx, "deadletter.#")
	require.NoError(t, err)

	sub, err := tr.Subscriber("risk")
	require.NoError(t, err)
	g, err := subscriber.NewGroup(sub, stack.Middlewares()...)
	require.NoError(t, err)
	calls := 0
	require.NoError(t, subscriber.On(g, "trade.#", func(context.Context, events.Trade) error {
		calls++
		return nil
	}))
	runGroup(t, g)

	bad := message.NewMessage("bad-1", []byte(`{"not":"a trade"`))
	bad.Metadata.Set(events.MetaType, events.Trade{}.EventType())
	bad.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	require.NoError(t, tr.Publisher().Publish("trade.binance.BTCUSDT", bad))
	select {
	case msg := <-dead:
		require.Equal(t, "bad-1", msg.UUID)
		msg.Ack()
	case <-time.After(time.Minute):
		t.Fatal("malformed event not dead-lettered")
	}
	require.Zero(t, calls)
	require.EqualValues(t, 1, stack.Poison.Published())
}

func TestGroupRejects(t *testing.T) {
	_, err := subscriber.NewGroup(&recorderSub{})
	require.ErrorIs(t, err, subscriber.ErrInvalidOption)

	tr, err := mem.New()
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()
	sub, err := tr.Subscriber("g")
	require.NoError(t, err)
	g, err := subscriber.NewGroup(sub)
	require.NoError(t, err)
	noop := func(context.Context, events.Trade) error { return nil }
	require.ErrorIs(t, subscriber.On(g, "trade..x", noop), subscriber.ErrInvalidOption)
	require.ErrorIs(t, subscriber.On[events.Trade](g, "trade.#", nil), subscriber.ErrInvalidOption)
	require.NoError(t, subscriber.On(g, "trade.#", noop))
	require.ErrorIs(t, subscriber.On(g, "trade.#", noop), subscriber.ErrInvalidOption, "duplicate name")
	require.ErrorIs(t, (&subscriber.Group{}).Run(context.Background()), subscriber.ErrInvalidOption)
}

// recorderSub is a plain Watermill subscriber without a fast path.
type recorderSub struct{}

func (recorderSub) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return nil, nil
}
func (recorderSub) Close() error { return nil }

// TestNewGroupWithStackCatchesGroupMismatch: a stack built for another
// consumer group than the subscriber's (or for none) is refused; the same
// group builds, and its middlewares run.
func TestNewGroupWithStackCatchesGroupMismatch(t *testing.T) {
	tr, err := mem.New()
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()
	sub, err := tr.Subscriber("risk")
	require.NoError(t, err)

	for _, opts := range [][]middleware.Option{
		{middleware.WithConsumerGroup("strategy")},
		nil, // no group at all
	} {
		stack, err := middleware.Default(tr.Publisher(), opts...)
		require.NoError(t, err)
		_, err = subscriber.NewGroupWithStack(sub, stack)
		require.ErrorIs(t, err, subscriber.ErrGroupMismatch)
		require.ErrorContains(t, err, `"risk"`)
	}
	_, err = subscriber.NewGroupWithStack(sub, nil)
	require.ErrorIs(t, err, subscriber.ErrInvalidOption)

	poisoned := make(chan string, 1)
	stack, err := middleware.Default(notifyingPublisher{tr.Publisher(), poisoned},
		middleware.WithConsumerGroup("risk"), middleware.WithMaxAttempts(1))
	require.NoError(t, err)
	var inner sync.WaitGroup
	inner.Add(1)
	extra := func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			defer inner.Done()
			return h(msg)
		}
	}
	g, err := subscriber.NewGroupWithStack(sub, stack, extra)
	require.NoError(t, err)
	failed := errors.New("boom")
	require.NoError(t, subscriber.On(g, "trade.*.BTCUSDT", func(context.Context, events.Trade) error { return failed }))
	require.NoError(t, subscriber.On(g, "ticker.#", func(context.Context, events.Ticker) error { return nil }))
	require.Equal(t, []string{"trade.*.BTCUSDT", "ticker.#"}, g.Patterns())
	runGroup(t, g)
	pub, err := publisher.New(tr.Publisher())
	require.NoError(t, err)
	require.NoError(t, pub.Publish(context.Background(), events.Trade{Exchange: "binance", Symbol: "BTCUSDT",
		Price: events.MustDecimal("1"), Amount: events.MustDecimal("1"), Side: events.SideBuy, Time: time.Now()}))
	inner.Wait()                                    // the extra middleware ran inside the stack ...
	require.Equal(t, "deadletter.risk", <-poisoned) // ... and the stack's poison middleware took the failure
}

// notifyingPublisher sends the topic of every publish to topics.
type notifyingPublisher struct {
	message.Publisher
	topics chan<- string
}

func (p notifyingPublisher) Publish(topic string, msgs ...*message.Message) error {
	err := p.Publisher.Publish(topic, msgs...)
	p.topics <- topic
	return err
}

// TestGroupNamesHandlersForTheMiddleware: every delivery carries its
// handler's name (middleware.HandlerName), so the default stack keeps two
// handlers that match one event apart: both run, once each, and a
// redelivered duplicate is still skipped per handler.
func TestGroupNamesHandlersForTheMiddleware(t *testing.T) {
	tr, err := mem.New()
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()
	sub, err := tr.Subscriber("risk")
	require.NoError(t, err)
	stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("risk"))
	require.NoError(t, err)
	names := make(chan string, 4)
	record := func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			names <- middleware.HandlerName(msg.Context())
			return h(msg)
		}
	}
	g, err := subscriber.NewGroupWithStack(sub, stack, record)
	require.NoError(t, err)
	ok := func(context.Context, events.Trade) error { return nil }
	require.NoError(t, subscriber.On(g, "trade.*.BTCUSDT", ok))
	require.NoError(t, subscriber.On(g, "trade.binance.*", ok, subscriber.WithName("by-venue")))
	runGroup(t, g)
	pub, err := publisher.New(tr.Publisher())
	require.NoError(t, err)
	msg, err := pub.NewMessage(context.Background(), events.Trade{Exchange: "binance", Symbol: "BTCUSDT",
		Price: events.MustDecimal("1"), Amount: events.MustDecimal("1"), Side: events.SideBuy, Time: time.Now()})
	require.NoError(t, err)
	require.NoError(t, tr.Publisher().Publish("trade.binance.BTCUSDT", msg))
	require.ElementsMatch(t, []string{"tradebus.trade.v1@trade.*.BTCUSDT", "by-venue"}, []string{<-names, <-names})
	// The same event again: each handler's dedup skips it, so the record
	// middleware (inside dedup) does not see it; a new event of the same
	// symbol comes after it in both queues (key order) and is seen by both.
	require.NoError(t, tr.Publisher().Publish("trade.binance.BTCUSDT", msg.Copy()))
	require.NoError(t, pub.Publish(context.Background(), events.Trade{Exchange: "binance", Symbol: "BTCUSDT",
		Price: events.MustDecimal("2"), Amount: events.MustDecimal("1"), Side: events.SideBuy, Time: time.Now()}))
	require.ElementsMatch(t, []string{"tradebus.trade.v1@trade.*.BTCUSDT", "by-venue"}, []string{<-names, <-names})
	require.EqualValues(t, 2, stack.Dedup.Stats().Duplicates)
}
