package tradebustest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/tradebustest"
)

var epoch = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func trade(id, symbol string) events.Trade {
	return events.Trade{Exchange: "binance", Symbol: symbol, TradeID: id, Side: events.SideBuy,
		Price: events.MustDecimal("64250.1"), Amount: events.MustDecimal("0.5"), Time: epoch}
}

func ids(ts []events.Trade) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.TradeID
	}
	return out
}

// TestPublishRightAfterRegistering is issue 14's publish-before-subscribe
// case: handlers registered, events published at once — no Running to
// wait for — and every one arrives, through Publish and through the
// harness's publisher alike.
func TestPublishRightAfterRegistering(t *testing.T) {
	for i := range 20 {
		h := tradebustest.New(t)
		require.NoError(t, subscriber.On(h.Group("risk"), "trade.*.BTCUSDT", func(context.Context, events.Trade) error { return nil }))
		if i%2 == 0 {
			h.Publish(trade("1", "BTCUSDT"))
		} else {
			require.NoError(t, h.Publisher().Publish(context.Background(), trade("1", "BTCUSDT")))
		}
		h.WaitHandled()
		require.Equal(t, []string{"1"}, ids(tradebustest.Consumed[events.Trade](h, "risk")))
	}
}

// TestRecordsEveryOutcome: consumed, retried then consumed, dead-lettered
// as permanent at once, panicking until dead-lettered — each shows in the
// typed assertions with its attempts and reason.
func TestRecordsEveryOutcome(t *testing.T) {
	h := tradebustest.New(t)
	var flaky atomic.Int32
	require.NoError(t, subscriber.On(h.Group("risk"), "trade.#", func(_ context.Context, tr events.Trade) error {
		switch tr.TradeID {
		case "flaky":
			if flaky.Add(1) < 3 {
				return errors.New("venue timeout")
			}
		case "bad":
			return middleware.Permanent(errors.New("symbol not allowed"))
		case "panic":
			panic("nil map")
		}
		return nil
	}))
	h.Publish(trade("ok", "BTCUSDT"), trade("flaky", "ETHUSDT"), trade("bad", "SOLUSDT"), trade("panic", "XRPUSDT"))
	h.WaitHandled()

	require.Equal(t, []string{"ok", "flaky", "bad", "panic"}, ids(tradebustest.Published[events.Trade](h)))
	require.ElementsMatch(t, []string{"ok", "flaky"}, ids(tradebustest.Consumed[events.Trade](h, "risk")))
	require.ElementsMatch(t, []string{"flaky", "panic"}, ids(tradebustest.Retried[events.Trade](h, "risk")))
	dead := tradebustest.DeadLettered[events.Trade](h, "risk")
	require.Len(t, dead, 2)
	byID := map[string]tradebustest.DeadLetter[events.Trade]{}
	for _, d := range dead {
		byID[d.Event.TradeID] = d
	}
	require.Equal(t, middleware.ClassPermanent, byID["bad"].Class)
	require.Equal(t, 1, byID["bad"].Attempts)
	require.Contains(t, byID["bad"].Reason, "symbol not allowed")
	require.Equal(t, "tradebus.trade.v1@trade.#", byID["bad"].Handler)
	require.Equal(t, middleware.ClassPanic, byID["panic"].Class)
	require.Equal(t, middleware.DefaultMaxAttempts, byID["panic"].Attempts)
	require.Equal(t, "trade.binance.XRPUSDT", byID["panic"].RoutingKey)
	// ok 1 + flaky 3 + bad 1 + panic 5
	require.Equal(t, 10, h.Attempts("risk"))
	require.Zero(t, h.DuplicatesSkipped("risk"))
	require.Empty(t, tradebustest.Consumed[events.Ticker](h, "risk"), "another type")
}

// TestWaitHandledFollowsWhatHandlersPublish: a strategy turns a trade into
// a signal, an executor consumes the signal; one WaitHandled covers both
// hops, and the signal carries the trade's correlation id.
func TestWaitHandledFollowsWhatHandlersPublish(t *testing.T) {
	h := tradebustest.New(t)
	pub := h.Publisher()
	require.NoError(t, subscriber.On(h.Group("strategy"), "trade.#", func(ctx context.Context, tr events.Trade) error {
		return pub.Publish(ctx, events.Signal{Exchange: tr.Exchange, Symbol: tr.Symbol, Strategy: "momentum",
			Action: events.SignalBuy, Strength: events.MustDecimal("0.8"), Time: tr.Time})
	}))
	var corr sync.Map
	require.NoError(t, subscriber.On(h.Group("exec"), "signal.#", func(ctx context.Context, s events.Signal) error {
		env, _ := events.EnvelopeFromContext(ctx)
		corr.Store(s.Symbol, env.CorrelationID)
		return nil
	}))
	for i := range 10 {
		h.Publish(trade(fmt.Sprint(i), fmt.Sprintf("SYM%d", i)))
	}
	h.WaitHandled()
	require.Len(t, tradebustest.Consumed[events.Signal](h, "exec"), 10)
	require.Len(t, tradebustest.Published[events.Signal](h), 10)
	n := 0
	corr.Range(func(_, v any) bool { n++; require.NotEmpty(t, v); return true })
	require.Equal(t, 10, n)
}

// TestDuplicatesSkipped: the same message (same event id) published twice
// is handled once; the second is counted as a skipped duplicate.
func TestDuplicatesSkipped(t *testing.T) {
	h := tradebustest.New(t)
	require.NoError(t, subscriber.On(h.Group("risk"), "trade.#", func(context.Context, events.Trade) error { return nil }))
	msg, err := h.Publisher().NewMessage(context.Background(), trade("dup", "BTCUSDT"))
	require.NoError(t, err)
	key := msg.Metadata.Get(events.MetaRoutingKey)
	require.NoError(t, h.MessagePublisher().Publish(key, msg))
	require.NoError(t, h.MessagePublisher().Publish(key, msg.Copy()))
	h.WaitHandled()
	require.Equal(t, []string{"dup"}, ids(tradebustest.Consumed[events.Trade](h, "risk")))
	require.Equal(t, 1, h.DuplicatesSkipped("risk"))
}

// TestMalformedBodyIsDeadLettered: a body that is not a valid trade fails
// decoding (permanent), is dead-lettered at once, and DeadLettered still
// reports it, with the zero event and the reason.
func TestMalformedBodyIsDeadLettered(t *testing.T) {
	h := tradebustest.New(t)
	var calls atomic.Int32
	require.NoError(t, subscriber.On(h.Group("risk"), "trade.#", func(context.Context, events.Trade) error {
		calls.Add(1)
		return nil
	}))
	msg, err := h.Publisher().NewMessage(context.Background(), trade("x", "BTCUSDT"))
	require.NoError(t, err)
	msg.Payload = []byte(`{"exchange":"binance","symbol":"BTCUSDT","price":1}`)
	require.NoError(t, h.MessagePublisher().Publish(msg.Metadata.Get(events.MetaRoutingKey), msg))
	h.WaitHandled()
	dead := tradebustest.DeadLettered[events.Trade](h, "risk")
	require.Len(t, dead, 1)
	require.Equal(t, events.Trade{}, dead[0].Event)
	require.Equal(t, middleware.ClassPermanent, dead[0].Class)
	require.Zero(t, calls.Load())
}

// TestGroupOptions: per-group middleware options apply (one attempt, so
// a transient failure is dead-lettered without retry).
func TestGroupOptions(t *testing.T) {
	h := tradebustest.New(t)
	g := h.Group("risk", middleware.WithMaxAttempts(1))
	require.Same(t, g, h.Group("risk"))
	require.NoError(t, subscriber.On(g, "trade.#", func(context.Context, events.Trade) error { return errors.New("down") }))
	h.Publish(trade("1", "BTCUSDT"))
	h.WaitHandled()
	dead := tradebustest.DeadLettered[events.Trade](h, "risk")
	require.Len(t, dead, 1)
	require.Equal(t, middleware.ClassTransient, dead[0].Class)
	require.Equal(t, 1, dead[0].Attempts)
	require.Empty(t, tradebustest.Retried[events.Trade](h, "risk"))
}

// riskSuite shows the harness in a testify suite: a new harness per test.
type riskSuite struct {
	suite.Suite
	h *tradebustest.Harness
}

func (s *riskSuite) SetupTest() {
	s.h = tradebustest.New(s.T())
	s.Require().NoError(subscriber.On(s.h.Group("risk"), "trade.#", func(context.Context, events.Trade) error { return nil }))
}

func (s *riskSuite) TestConsumes() {
	s.h.Publish(trade("1", "BTCUSDT"), trade("2", "BTCUSDT"))
	s.h.WaitHandled()
	s.Equal([]string{"1", "2"}, ids(tradebustest.Consumed[events.Trade](s.h, "risk")), "one symbol stays in order")
}

func TestTestifySuite(t *testing.T) { suite.Run(t, new(riskSuite)) }

// fakeTB records what the harness reports; FailNow ends the goroutine as
// testing.T's does.
type fakeTB struct {
	mu       sync.Mutex
	errs     []string
	failNow  bool
	cleanups []func()
}

func (f *fakeTB) Helper()             {}
func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) FailNow() {
	f.mu.Lock()
	f.failNow = true
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// runFake runs body as a test on a fakeTB: on its own goroutine, then the
// cleanups, last first.
func runFake(body func(tb *fakeTB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f
}

func (f *fakeTB) report() string { return strings.Join(f.errs, "\n") }

// TestFailuresAreReported: the harness fails the test — through the TB it
// was given — when an expectation is not met, naming what is missing.
func TestFailuresAreReported(t *testing.T) {
	t.Run("expectation never met", func(t *testing.T) {
		f := runFake(func(tb *fakeTB) {
			h := tradebustest.New(tb, tradebustest.WithTimeout(100*time.Millisecond))
			// The pattern is for ETHUSDT; the test expects a BTCUSDT trade.
			_ = subscriber.On(h.Group("risk"), "trade.*.ETHUSDT", func(context.Context, events.Trade) error { return nil })
			h.Publish(trade("1", "BTCUSDT"))
			h.WaitHandled() // nothing matches: nothing pending
			h.Eventually(func() bool { return len(tradebustest.Consumed[events.Trade](h, "risk")) == 1 }, "risk consumed the BTCUSDT trade")
			tb.Errorf("not reached")
		})
		require.True(t, f.failNow)
		require.Contains(t, f.report(), "risk consumed the BTCUSDT trade: still not true after 100ms")
		require.NotContains(t, f.report(), "not reached")
	})
	t.Run("handler still busy", func(t *testing.T) {
		release := make(chan struct{})
		f := runFake(func(tb *fakeTB) {
			defer close(release) // FailNow runs it: the handler returns, the cleanup drains
			h := tradebustest.New(tb, tradebustest.WithTimeout(100*time.Millisecond))
			_ = subscriber.On(h.Group("risk"), "trade.#", func(context.Context, events.Trade) error {
				<-release
				return nil
			})
			h.Publish(trade("stuck", "BTCUSDT"))
			h.WaitHandled()
		})
		require.True(t, f.failNow)
		require.Contains(t, f.report(), "every published event handled: still not true after 100ms; not handled yet:")
		require.Contains(t, f.report(), `group "risk": tradebus.trade.v1 trade.binance.BTCUSDT`)
	})
	t.Run("group without handler", func(t *testing.T) {
		f := runFake(func(tb *fakeTB) {
			h := tradebustest.New(tb)
			h.Group("risk")
			h.Publish(trade("1", "BTCUSDT"))
		})
		require.True(t, f.failNow)
		require.Contains(t, f.report(), `group "risk" has no handler`)
	})
	t.Run("unknown group", func(t *testing.T) {
		f := runFake(func(tb *fakeTB) {
			h := tradebustest.New(tb)
			_ = subscriber.On(h.Group("risk"), "trade.#", func(context.Context, events.Trade) error { return nil })
			_ = tradebustest.Consumed[events.Trade](h, "rsik")
		})
		require.False(t, f.failNow)
		require.Contains(t, f.report(), `no group "rsik" (groups: risk)`)
	})
	t.Run("invalid event", func(t *testing.T) {
		f := runFake(func(tb *fakeTB) {
			h := tradebustest.New(tb)
			_ = subscriber.On(h.Group("risk"), "trade.#", func(context.Context, events.Trade) error { return nil })
			h.Publish(events.Trade{Symbol: "BTCUSDT"})
		})
		require.True(t, f.failNow)
		require.Contains(t, f.report(), "publish:")
	})
	t.Run("a met expectation reports nothing", func(t *testing.T) {
		f := runFake(func(tb *fakeTB) {
			h := tradebustest.New(tb)
			_ = subscriber.On(h.Group("risk"), "trade.#", func(context.Context, events.Trade) error { return nil })
			h.Publish(trade("1", "BTCUSDT"))
			h.Eventually(func() bool { return len(tradebustest.Consumed[events.Trade](h, "risk")) == 1 }, "consumed")
		})
		require.False(t, f.failNow)
		require.Empty(t, f.errs)
	})
}

// TestShortBackoff: the harness's stacks retry after 1 ms, doubling to
// 10 ms (the README's numbers), unless a test sets its own backoff.
func TestShortBackoff(t *testing.T) {
	h := tradebustest.New(t)
	h.Group("risk")
	r := h.Stack("risk").Retry
	require.Equal(t, time.Millisecond, r.Delay(1))
	require.Equal(t, 2*time.Millisecond, r.Delay(2))
	require.Equal(t, 10*time.Millisecond, r.Delay(5))
	h.Group("slow", middleware.WithBackoff(time.Second, 2, time.Minute))
	require.Equal(t, time.Second, h.Stack("slow").Retry.Delay(1))
	require.Equal(t, "risk", h.Stack("risk").ConsumerGroup())
}

// TestTwoHandlersOfAGroupBothRun: two handlers of one group whose
// patterns match the same event both handle it; neither is taken for the
// other's duplicate (the fast path names each handler for the middleware).
func TestTwoHandlersOfAGroupBothRun(t *testing.T) {
	h := tradebustest.New(t)
	g := h.Group("risk")
	require.NoError(t, subscriber.On(g, "trade.*.BTCUSDT", func(context.Context, events.Trade) error { return nil }))
	require.NoError(t, subscriber.On(g, "trade.binance.*", func(context.Context, events.Trade) error { return nil }))
	h.Publish(trade("1", "BTCUSDT"))
	h.WaitHandled()
	require.Equal(t, []string{"1", "1"}, ids(tradebustest.Consumed[events.Trade](h, "risk")))
	require.Zero(t, h.DuplicatesSkipped("risk"))
}

// TestWaitHandledFollowsRequeuedCopies: with middleware.WithRequeue on the
// harness's publisher, a failing event is acked and sent again as a
// delayed copy; WaitHandled waits for the copies too, and the copies are
// not counted as newly published events.
func TestWaitHandledFollowsRequeuedCopies(t *testing.T) {
	h := tradebustest.New(t)
	g := h.Group("risk", middleware.WithMaxAttempts(1), middleware.WithRequeue(h.MessagePublisher(), 3))
	var n atomic.Int32
	require.NoError(t, subscriber.On(g, "trade.#", func(context.Context, events.Trade) error {
		if n.Add(1) <= 2 {
			return errors.New("venue busy")
		}
		return nil
	}))
	h.Publish(trade("1", "BTCUSDT"))
	h.WaitHandled()
	require.EqualValues(t, 3, n.Load(), "two requeued copies, the second one consumed")
	require.Equal(t, []string{"1"}, ids(tradebustest.Consumed[events.Trade](h, "risk")))
	require.Equal(t, []string{"1"}, ids(tradebustest.Retried[events.Trade](h, "risk")))
	require.Equal(t, []string{"1"}, ids(tradebustest.Published[events.Trade](h)))
	require.Empty(t, tradebustest.DeadLettered[events.Trade](h, "risk"))
}
