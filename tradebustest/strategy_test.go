package tradebustest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/tradebustest"
)

// The README's "Testing your service" mirrors registerStrategy and
// TestStrategyTurnsSignalsIntoOrders.

// registerStrategy is the service's wiring: main passes svc.Group() and
// svc.Publisher(), a test h.Group("strategy") and h.Publisher().
func registerStrategy(g *subscriber.Group, pub *publisher.Publisher) error {
	return subscriber.On(g, "signal.#", func(ctx context.Context, s events.Signal) error {
		if s.Price.IsZero() {
			return middleware.Permanent(errors.New("signal without a reference price"))
		}
		return pub.Publish(ctx, events.Order{Action: events.OrderNew, Exchange: s.Exchange, Symbol: s.Symbol,
			ClOrdID: "c-" + s.Symbol, Side: events.SideBuy, OrdType: events.OrdTypeLimit,
			OrderQty: events.MustDecimal("0.01"), Price: s.Price, Time: s.Time})
	})
}

func TestStrategyTurnsSignalsIntoOrders(t *testing.T) {
	h := tradebustest.New(t) // mem transport, middleware.Default per group; cleaned up with t
	require.NoError(t, registerStrategy(h.Group("strategy"), h.Publisher()))

	h.Publish( // starts the groups first: nothing is published before its subscribers exist
		events.Signal{Strategy: "momentum", Exchange: "binance", Symbol: "BTCUSDT", Action: events.SignalBuy,
			Strength: events.MustDecimal("0.8"), Price: events.MustDecimal("64250.1"), Time: time.Now()},
		events.Signal{Strategy: "momentum", Exchange: "binance", Symbol: "ETHUSDT", Action: events.SignalBuy,
			Strength: events.MustDecimal("0.8"), Time: time.Now()}, // no price: dead-lettered
	)
	h.WaitHandled() // every event handled to the end, the orders the handler published included

	orders := tradebustest.Published[events.Order](h)
	require.Len(t, orders, 1)
	require.Equal(t, "BTCUSDT", orders[0].Symbol)
	dead := tradebustest.DeadLettered[events.Signal](h, "strategy")
	require.Len(t, dead, 1)
	require.Equal(t, "ETHUSDT", dead[0].Event.Symbol)
	require.Contains(t, dead[0].Reason, "without a reference price")
}
