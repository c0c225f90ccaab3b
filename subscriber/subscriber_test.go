package subscriber_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var at = time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)

func trade(exchange, symbol, id string) events.Trade {
	return events.Trade{
		Exchange: exchange, Symbol: symbol, TradeID: id,
		Price: events.MustDecimal("100.5"), Amount: events.MustDecimal("2"),
		Side: events.SideBuy, Time: at,
	}
}

type fixture struct {
	tr     *transport.Portable
	pub    *publisher.Publisher
	router *message.Router
	errs   chan error // errors returned by handlers, seen by a middleware
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tr, err := mem.New(mem.WithRedeliveryBackoff(time.Millisecond, 5*time.Millisecond))
	require.NoError(t, err)
	pub, err := publisher.New(tr.Publisher())
	require.NoError(t, err)
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, watermill.NopLogger{})
	require.NoError(t, err)
	f := &fixture{tr: tr, pub: pub, router: r, errs: make(chan error, 100)}
	r.AddMiddleware(func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err != nil {
				f.errs <- err
				if middleware.IsPermanent(err) {
					return out, nil // ack: a test stand-in for the poison queue
				}
			}
			return out, err
		}
	})
	t.Cleanup(func() {
		if r.IsRunning() {
			require.NoError(t, r.Close())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, tr.Close(ctx))
	})
	return f
}

func (f *fixture) run(t *testing.T) {
	t.Helper()
	go func() { _ = f.router.Run(context.Background()) }()
	select {
	case <-f.router.Running():
	case <-time.After(5 * time.Second):
		t.Fatal("router did not start")
	}
}

func TestHandleTypedWithWildcard(t *testing.T) {
	f := newFixture(t)
	sub, err := f.tr.Subscriber("strategy")
	require.NoError(t, err)
	got := make(chan events.Trade, 10)
	envs := make(chan events.Envelope, 10)
	_, err = subscriber.Handle(f.router, sub, "trade.*.BTCUSDT", func(ctx context.Context, tr events.Trade) error {
		env, ok := events.EnvelopeFromContext(ctx)
		require.True(t, ok)
		envs <- env
		got <- tr
		return nil
	})
	require.NoError(t, err)
	f.run(t)

	ctx := context.Background()
	require.NoError(t, f.pub.Publish(ctx, trade("kraken", "ETHUSDT", "x"), trade("kraken", "BTCUSDT", "1"), trade("binance", "BTCUSDT", "2")))
	ids := map[string]bool{}
	for range 2 {
		select {
		case tr := <-got:
			require.Equal(t, "BTCUSDT", tr.Symbol)
			ids[tr.TradeID] = true
			env := <-envs
			require.Equal(t, "trade."+tr.Exchange+".BTCUSDT", env.RoutingKey)
			require.Equal(t, "tradebus.trade.v1", env.Type)
			require.Equal(t, at, env.Time)
		case <-time.After(5 * time.Second):
			t.Fatal("timeout")
		}
	}
	require.Equal(t, map[string]bool{"1": true, "2": true}, ids)
	// A sentinel published after the ETHUSDT trade on its exchange's key
	// order: the next event handled is the sentinel, so ETHUSDT never came.
	require.NoError(t, f.pub.Publish(ctx, trade("kraken", "BTCUSDT", "sentinel")))
	select {
	case tr := <-got:
		require.Equal(t, "sentinel", tr.TradeID, "the ETHUSDT trade was handled")
	case <-time.After(time.Minute):
		t.Fatal("timeout")
	}
}

func TestDecodeFailureIsPermanentNotALoop(t *testing.T) {
	f := newFixture(t)
	sub, err := f.tr.Subscriber("g")
	require.NoError(t, err)
	var calls sync.WaitGroup
	_, err = subscriber.Handle(f.router, sub, "trade.#", func(context.Context, events.Trade) error {
		calls.Done()
		return nil
	})
	require.NoError(t, err)
	f.run(t)

	bad := []*message.Message{
		message.NewMessage("m1", []byte(`{not json`)),
		message.NewMessage("m2", []byte(`{"exchange":"binance","symbol":"BTCUSDT","price":"-3","amount":"1","side":"BUY","datetime":"2026-01-01T00:00:00Z"}`)),
		message.NewMessage("m3", []byte(`{}`)),
	}
	bad[2].Metadata.Set(events.MetaType, "tradebus.ticker.v1")
	for _, m := range bad {
		require.NoError(t, f.tr.Publisher().Publish("trade.binance.BTCUSDT", m))
	}
	for range bad {
		select {
		case err := <-f.errs:
			require.ErrorIs(t, err, middleware.ErrPermanent)
			var de *subscriber.DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, "trade.binance.BTCUSDT", de.RoutingKey)
			require.Equal(t, "tradebus.trade.v1", de.Type)
			switch de.MessageUUID {
			case "m1":
				require.ErrorIs(t, err, events.ErrDecode)
			case "m2":
				require.ErrorIs(t, err, events.ErrValidation)
				require.Contains(t, err.Error(), "price")
			case "m3":
				require.ErrorIs(t, err, subscriber.ErrTypeMismatch)
			default:
				t.Fatalf("unexpected message %s", de.MessageUUID)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timeout")
		}
	}
	// A valid event after the bad ones still flows: nothing stalled.
	calls.Add(1)
	require.NoError(t, f.pub.Publish(context.Background(), trade("binance", "BTCUSDT", "ok")))
	calls.Wait()
	select {
	case err := <-f.errs:
		t.Fatalf("bad messages were redelivered: %v", err)
	default:
	}
}

func TestHandlerErrorRedeliversAndPublishingChains(t *testing.T) {
	f := newFixture(t)
	subT, err := f.tr.Subscriber("strategy")
	require.NoError(t, err)
	subS, err := f.tr.Subscriber("executor")
	require.NoError(t, err)
	var mu sync.Mutex
	attempts := 0
	_, err = subscriber.Handle(f.router, subT, "trade.#", func(ctx context.Context, tr events.Trade) error {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n == 1 {
			return errors.New("transient")
		}
		return f.pub.Publish(ctx, events.Signal{
			Strategy: "s1", Exchange: tr.Exchange, Symbol: tr.Symbol, Action: events.SignalBuy,
			Strength: events.MustDecimal("0.5"), Time: tr.Time,
		})
	})
	require.NoError(t, err)
	sigEnv := make(chan events.Envelope, 1)
	_, err = subscriber.Handle(f.router, subS, "signal.#", func(ctx context.Context, _ events.Signal) error {
		env, _ := events.EnvelopeFromContext(ctx)
		sigEnv <- env
		return nil
	})
	require.NoError(t, err)
	f.run(t)

	rec := &captured{}
	p2, err := publisher.New(multi{f.tr.Publisher(), rec})
	require.NoError(t, err)
	require.NoError(t, p2.Publish(context.Background(), trade("binance", "BTCUSDT", "1")))
	select {
	case env := <-sigEnv:
		parent := rec.msg.Metadata
		require.Equal(t, parent[events.MetaID], env.CausationID)
		require.Equal(t, parent[events.MetaCorrelationID], env.CorrelationID)
		require.Equal(t, parent[events.MetaID], env.CorrelationID, "the trade started the flow")
	case <-time.After(5 * time.Second):
		t.Fatal("timeout")
	}
	require.ErrorContains(t, <-f.errs, "transient")
	mu.Lock()
	require.Equal(t, 2, attempts)
	mu.Unlock()
}

type captured struct{ msg *message.Message }

func (c *captured) Publish(_ string, msgs ...*message.Message) error {
	c.msg = msgs[0]
	return nil
}
func (c *captured) Close() error { return nil }

type multi []message.Publisher

func (m multi) Publish(topic string, msgs ...*message.Message) error {
	for _, p := range m {
		if err := p.Publish(topic, msgs...); err != nil {
			return err
		}
	}
	return nil
}
func (m multi) Close() error { return nil }

func TestHandleRejectsBadArguments(t *testing.T) {
	f := newFixture(t)
	sub, err := f.tr.Subscriber("g")
	require.NoError(t, err)
	fn := func(context.Context, events.Trade) error { return nil }
	for name, pattern := range map[string]string{"empty": "", "wildcard kind": "*.binance", "space": "trade.bin ance"} {
		_, err := subscriber.Handle(f.router, sub, pattern, fn)
		require.ErrorIs(t, err, subscriber.ErrInvalidOption, name)
		require.ErrorIs(t, err, events.ErrInvalidRoutingKey, name)
	}
	_, err = subscriber.Handle[events.Trade](f.router, sub, "trade.#", nil)
	require.ErrorIs(t, err, subscriber.ErrInvalidOption)
	_, err = subscriber.Handle(nil, sub, "trade.#", fn)
	require.ErrorIs(t, err, subscriber.ErrInvalidOption)
	_, err = subscriber.Handle(f.router, nil, "trade.#", fn)
	require.ErrorIs(t, err, subscriber.ErrInvalidOption)
	_, err = subscriber.Handle(f.router, sub, "trade.#", fn, subscriber.WithName(""))
	require.ErrorIs(t, err, subscriber.ErrInvalidOption)
	_, err = subscriber.Handle(f.router, sub, "trade.#", fn, subscriber.WithName("x"))
	require.NoError(t, err)
	_, err = subscriber.Handle(f.router, sub, "trade.#", fn, subscriber.WithName("x"))
	require.ErrorIs(t, err, subscriber.ErrInvalidOption, "duplicate name is an error, not a panic")
}
