package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/rpc"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// bus is one transport under test with the subscriptions made on it, so
// that they are removed at the end.
type bus struct {
	*transport.Portable
	mu   sync.Mutex
	subs []brokerns.Subscription
}

func (b *bus) subscribed(group, pattern string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, brokerns.Subscription{Group: group, Pattern: pattern})
}

// transports are the transports under test and the variables naming their
// brokers (Kafka: an embedded cluster when unset).
var transports = []struct{ name, env string }{
	{"mem", ""}, {"amqp", "TRADEBUS_TEST_AMQP_URL"}, {"kafka", "TRADEBUS_TEST_KAFKA_BROKERS"},
	{"redis", "TRADEBUS_TEST_REDIS_URL"}, {"nats", "TRADEBUS_TEST_NATS_URL"},
}

// forEachTransport runs test on mem and on every broker whose address is
// set (Kafka: embedded).
func forEachTransport(t *testing.T, test func(t *testing.T, b *bus)) {
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := openBus(t, tc.name, tc.env)
			test(t, b)
		})
	}
}

// openBus opens the transport name in a namespace of its own, removed
// (with the subscriptions made on it) when tb ends. raw is the broker's
// address without the namespace.
func openBus(tb testing.TB, name, env string) (b *bus, raw string) {
	tb.Helper()
	raw, embedded := "mem://", false
	switch {
	case name == "kafka" && os.Getenv(env) == "":
		raw, embedded = kafkatest.NewCluster(tb).URL(), true // a fresh embedded cluster
	case name == "kafka":
		raw = "kafka://" + os.Getenv(env)
	case env != "":
		raw = os.Getenv(env)
		if raw == "" {
			tb.Skipf("set %s to run on %s", env, name)
		}
	}
	ns, url := brokerns.Unique(), raw
	if !embedded {
		var err error
		if url, err = brokerns.Apply(raw, ns); err != nil {
			tb.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, url, transport.WithLogger(quiet))
	if err != nil {
		tb.Fatalf("%s: %v", env, err)
	}
	b = &bus{Portable: tr.(*transport.Portable)}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
		if raw != "mem://" && !embedded {
			if err := brokerns.Remove(ctx, raw, ns, b.subs); err != nil {
				tb.Errorf("clean up: %v", err)
			}
		}
	})
	return b, raw
}

// riskLimit is the largest order quantity the test risk service accepts.
var riskLimit = events.MustDecimal("10")

// startServer runs the risk service (group "risk", middleware.Default) with
// fn answering, until the test ends.
func startServer(t testing.TB, b *bus, fn func(ctx context.Context, o events.Order) (events.ExecutionReport, error)) *rpc.Server {
	t.Helper()
	srv, err := rpc.NewServer(b.Publisher())
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscriber("risk")
	if err != nil {
		t.Fatal(err)
	}
	stack, err := middleware.Default(b.Publisher(), middleware.WithConsumerGroup("risk"), middleware.WithLogger(quiet),
		middleware.WithBackoff(time.Millisecond, 2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	g, err := subscriber.NewGroup(sub, stack.Middlewares()...)
	if err != nil {
		t.Fatal(err)
	}
	pattern := rpc.Pattern("risk", "order.#")
	b.subscribed("risk", pattern)
	if err := subscriber.On(g, pattern, rpc.Handler(srv, fn)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	select {
	case <-g.Running():
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server: %v", err)
		}
		_ = sub.Close()
	})
	return srv
}

func newClient(t testing.TB, b *bus, opts ...rpc.ClientOption) *rpc.Client {
	t.Helper()
	c, err := rpc.NewClient(context.Background(), b, append([]rpc.ClientOption{rpc.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	b.subscribed(c.Group(), c.ReplyKey())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("client close: %v", err)
		}
	})
	return c
}

var t0 = time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)

func order(symbol string, n int, qty string) events.Order {
	return events.Order{
		Action: events.OrderNew, Exchange: "binance", Symbol: symbol, ClOrdID: fmt.Sprintf("c-%s-%d", symbol, n),
		Side: events.SideBuy, OrdType: events.OrdTypeLimit, TimeInForce: events.TimeInForceGTC,
		OrderQty: events.MustDecimal(qty), Price: events.MustDecimal("100"), Time: t0,
	}
}

// accept is the risk check: orders up to riskLimit are accepted (an
// ExecutionReport NEW), bigger ones refused with a typed remote error.
func accept(_ context.Context, o events.Order) (events.ExecutionReport, error) {
	if o.OrderQty.Cmp(riskLimit) > 0 {
		return events.ExecutionReport{}, &rpc.Error{Code: "limit", Message: "quantity " + o.OrderQty.String() + " over " + riskLimit.String()}
	}
	return events.ExecutionReport{
		Exchange: o.Exchange, Symbol: o.Symbol, OrderID: "risk-" + o.ClOrdID, ClOrdID: o.ClOrdID, ExecID: "x-" + o.ClOrdID,
		ExecType: events.ExecTypeNew, OrdStatus: events.OrdStatusNew, Side: o.Side, OrdType: o.OrdType,
		OrderQty: o.OrderQty, Price: o.Price, LeavesQty: o.OrderQty, TransactTime: t0,
	}, nil
}

// Many concurrent calls from one client: each gets its own reply, refused
// orders a typed error.
func TestConcurrentCallsGetTheirOwnReply(t *testing.T) {
	forEachTransport(t, func(t *testing.T, b *bus) {
		startServer(t, b, accept)
		c := newClient(t, b)
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				qty := "1"
				if i%4 == 3 {
					qty = "50"
				}
				o := order([]string{"BTCUSDT", "ETHUSDT", "SOLUSDT"}[i%3], i, qty)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				rep, err := rpc.Call[events.ExecutionReport](ctx, c, "risk", o)
				var remote *rpc.Error
				switch {
				case qty == "50" && errors.As(err, &remote) && remote.Code == "limit":
				case qty == "50":
					errs <- fmt.Errorf("%s: want a limit error, got %v", o.ClOrdID, err)
				case err != nil:
					errs <- fmt.Errorf("%s: %w", o.ClOrdID, err)
				case rep.ClOrdID != o.ClOrdID || rep.OrdStatus != events.OrdStatusNew:
					errs <- fmt.Errorf("%s: got the reply for %s (%v)", o.ClOrdID, rep.ClOrdID, rep.OrdStatus)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if c.Pending() != 0 {
			t.Fatalf("%d calls still pending", c.Pending())
		}
	})
}

// The server runs with the caller's deadline, to the nanosecond.
func TestDeadlinePropagates(t *testing.T) {
	forEachTransport(t, func(t *testing.T, b *bus) {
		seen := make(chan time.Time, 1)
		startServer(t, b, func(ctx context.Context, o events.Order) (events.ExecutionReport, error) {
			dl, _ := ctx.Deadline()
			seen <- dl
			return accept(ctx, o)
		})
		c := newClient(t, b)
		want := time.Now().Add(2 * time.Minute)
		ctx, cancel := context.WithDeadline(context.Background(), want)
		defer cancel()
		if _, err := rpc.Call[events.ExecutionReport](ctx, c, "risk", order("BTCUSDT", 1, "1")); err != nil {
			t.Fatal(err)
		}
		if got := <-seen; !got.Equal(want) {
			t.Fatalf("server deadline %v, want the caller's %v", got, want)
		}
	})
}

// A request whose deadline passed before it was handled is not answered;
// a caller that gave up gets ErrTimeout, and the reply that comes later is
// dropped, never handed to another call.
func TestExpiredAndAbandonedRequests(t *testing.T) {
	forEachTransport(t, func(t *testing.T, b *bus) {
		block := make(chan struct{})
		started := make(chan string, 4)
		srv := startServer(t, b, func(ctx context.Context, o events.Order) (events.ExecutionReport, error) {
			started <- o.ClOrdID
			if o.ClOrdID == "c-BTCUSDT-1" {
				<-block // a slow (or stuck) server
			}
			return accept(ctx, o)
		})
		var unblock sync.Once
		release := func() { unblock.Do(func() { close(block) }) }
		t.Cleanup(release) // before the server's cleanup, which drains
		c := newClient(t, b)

		// 1. The caller gives up while the server works on its request.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		res := make(chan error, 1)
		go func() {
			_, err := rpc.Call[events.ExecutionReport](ctx, c, "risk", order("BTCUSDT", 1, "1"))
			res <- err
		}()
		if id := <-started; id != "c-BTCUSDT-1" {
			t.Fatalf("server got %s", id)
		}
		cancel()
		if err := <-res; !errors.Is(err, rpc.ErrTimeout) || !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned call: %v, want ErrTimeout", err)
		}
		if c.Pending() != 0 {
			t.Fatal("an abandoned call is still pending")
		}

		// 2. A request already expired when the server sees it: sent by
		// hand with a deadline in the past, on the same key (so it is
		// handled after request 1, once the server is unblocked).
		enc, err := publisher.New(b.Publisher())
		if err != nil {
			t.Fatal(err)
		}
		msg, err := enc.NewMessage(context.Background(), order("BTCUSDT", 2, "1"))
		if err != nil {
			t.Fatal(err)
		}
		msg.Metadata[events.MetaReplyTo] = c.ReplyKey()
		msg.Metadata[events.MetaDeadline] = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
		if err := b.Publisher().Publish(rpc.Pattern("risk", msg.Metadata[events.MetaRoutingKey]), msg); err != nil {
			t.Fatal(err)
		}
		release()

		// 3. A new call on the same key gets its own reply, not request 1's
		// late one.
		ctx3, cancel3 := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel3()
		rep, err := rpc.Call[events.ExecutionReport](ctx3, c, "risk", order("BTCUSDT", 3, "1"))
		if err != nil {
			t.Fatal(err)
		}
		if rep.ClOrdID != "c-BTCUSDT-3" {
			t.Fatalf("call 3 got the reply for %s", rep.ClOrdID)
		}
		// Request 3 was handled after 1 and 2 (one key, in order).
		if srv.Expired() != 1 {
			t.Fatalf("Expired() = %d, want 1 (request 2)", srv.Expired())
		}
		// The reply may arrive before the server's publish returned.
		deadline := time.Now().Add(2 * time.Minute)
		for c.Late() != 1 || srv.Replied() != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("Late() = %d, want 1 (request 1's reply); Replied() = %d, want 2 (requests 1 and 3)", c.Late(), srv.Replied())
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// A permanent failure is answered with a remote error (and dead-lettered
// by the stack); a transient one is retried by the stack and then answered.
func TestServerErrors(t *testing.T) {
	forEachTransport(t, func(t *testing.T, b *bus) {
		var mu sync.Mutex
		attempts := map[string]int{}
		startServer(t, b, func(ctx context.Context, o events.Order) (events.ExecutionReport, error) {
			mu.Lock()
			attempts[o.ClOrdID]++
			n := attempts[o.ClOrdID]
			mu.Unlock()
			switch o.Symbol {
			case "BADUSDT":
				return events.ExecutionReport{}, middleware.Permanent(errors.New("unknown instrument"))
			case "FLAKYUSDT":
				if n < 3 {
					return events.ExecutionReport{}, errors.New("risk database busy")
				}
			}
			return accept(ctx, o)
		})
		c := newClient(t, b)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := rpc.Call[events.ExecutionReport](ctx, c, "risk", order("BADUSDT", 1, "1"))
		var remote *rpc.Error
		if !errors.As(err, &remote) || remote.Code != "permanent" {
			t.Fatalf("permanent failure: %v, want an rpc.Error with code permanent", err)
		}
		rep, err := rpc.Call[events.ExecutionReport](ctx, c, "risk", order("FLAKYUSDT", 1, "1"))
		if err != nil || rep.ClOrdID != "c-FLAKYUSDT-1" {
			t.Fatalf("transient failure: %v %+v", err, rep)
		}
		mu.Lock()
		ran := attempts["c-FLAKYUSDT-1"]
		mu.Unlock()
		if ran != 3 {
			t.Fatalf("flaky request ran %d times, want 3", ran)
		}
		// Wrong reply type asked for.
		_, err = rpc.Call[events.Trade](ctx, c, "risk", order("BTCUSDT", 9, "1"))
		if !errors.Is(err, rpc.ErrUnexpectedReply) {
			t.Fatalf("reply of another type: %v", err)
		}
	})
}

func TestCallArguments(t *testing.T) {
	forEachTransport(t, func(t *testing.T, b *bus) {
		c := newClient(t, b)
		if _, err := rpc.Call[events.ExecutionReport](context.Background(), c, "no.dots", order("BTCUSDT", 1, "1")); !errors.Is(err, rpc.ErrInvalidOption) {
			t.Fatalf("bad service: %v", err)
		}
		bad := order("BTCUSDT", 1, "1")
		bad.OrderQty = events.MustDecimal("-1")
		if _, err := rpc.Call[events.ExecutionReport](context.Background(), c, "risk", bad); !errors.Is(err, publisher.ErrInvalidEvent) {
			t.Fatalf("invalid request: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		// Close removed the client's reply group from the broker (Kafka's
		// Lag reports a group without commits as if it existed).
		if _, err := transport.Lag(ctx, b, c.Group(), c.ReplyKey()); b.Capabilities().Name != "kafka" && !errors.Is(err, transport.ErrGroupNotFound) {
			t.Fatalf("reply group after Close: %v, want ErrGroupNotFound", err)
		}
		if _, err := rpc.Call[events.ExecutionReport](context.Background(), c, "risk", order("BTCUSDT", 1, "1")); !errors.Is(err, rpc.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	})
}
