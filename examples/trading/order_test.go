package main

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
)

// capture is a message.Publisher that keeps what is published.
type capture struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (c *capture) Publish(_ string, msgs ...*message.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *capture) Close() error { return nil }

func decodeAll[T events.Event](t *testing.T, c *capture) []T {
	t.Helper()
	var out []T
	var zero T
	for _, m := range c.msgs {
		if m.Metadata.Get(events.MetaType) != zero.EventType() {
			continue
		}
		ev, err := subscriber.Decode[T](m)
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

func captureSystem(t *testing.T, ticks int) (*system, *capture) {
	t.Helper()
	c := &capture{}
	pub, err := publisher.New(c)
	require.NoError(t, err)
	cfg := defaultConfig()
	cfg.Ticks = ticks
	s := newSystem(cfg, pub, c)
	s.log = slog.New(slog.DiscardHandler)
	return s, c
}

// perturb returns evs with some swapped with the one stride places on
// (the next of the same key) and some delivered twice, as redelivery after
// a broker restart may do.
func perturb[T any](evs []T, stride int, seed uint64) []T {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := append([]T(nil), evs...)
	for i := 0; i+stride < len(out); i++ {
		if rng.IntN(3) == 0 {
			out[i], out[i+stride] = out[i+stride], out[i]
		}
	}
	for i := 0; i < len(evs); i += 7 {
		out = append(out, evs[rng.IntN(len(evs))])
	}
	return out
}

// The strategy takes ticks in their order and skips a tick seen before:
// the same signals whatever order and duplicates the ticks arrive in.
func TestStrategyIndependentOfArrivalOrder(t *testing.T) {
	ctx := context.Background()
	sim, market := captureSystem(t, 150)
	require.NoError(t, sim.simulate(ctx))
	ticks := decodeAll[events.Ticker](t, market)
	require.Len(t, ticks, 150*6)

	inOrder, want := captureSystem(t, 150)
	for _, tk := range ticks {
		require.NoError(t, inOrder.onTicker(ctx, tk))
	}
	wantSignals := decodeAll[events.Signal](t, want)
	require.NotEmpty(t, wantSignals)

	shuffled, got := captureSystem(t, 150)
	for _, tk := range perturb(ticks, len(symbols)*len(exchanges), 3) {
		require.NoError(t, shuffled.onTicker(ctx, tk))
	}
	require.ElementsMatch(t, wantSignals, decodeAll[events.Signal](t, got))
}

// The portfolio replays fills in time order and counts an execution once:
// the same positions, and the same latest position per fill time (what the
// risk monitor keeps), whatever order the fills arrive in.
func TestPortfolioIndependentOfArrivalOrder(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 5))
	var fills []events.ExecutionReport
	for i := range 40 {
		side := events.SideBuy
		if rng.IntN(2) == 0 {
			side = events.SideSell
		}
		fills = append(fills, events.ExecutionReport{
			Exchange: "binance", Symbol: "ETHUSDT", OrderID: "V", ClOrdID: "C",
			ExecID: "E" + string(rune('A'+i)), ExecType: events.ExecTypeTrade, OrdStatus: events.OrdStatusFilled,
			Side: side, LastQty: thousandths(100 * (1 + rng.Int64N(5))), LastPx: cents(300_000 + rng.Int64N(2000) - 1000),
			TransactTime: epoch.Add(time.Duration(i) * tickEvery),
		})
	}
	positions := func(arrivals []events.ExecutionReport) (position, map[time.Time]events.Position) {
		s, c := captureSystem(t, 1)
		for _, f := range arrivals {
			require.NoError(t, s.onExec(ctx, f))
		}
		latest := map[time.Time]events.Position{}
		for _, p := range decodeAll[events.Position](t, c) {
			latest[p.Time] = p
		}
		states, err := replay(s.pf.Books["binance|ETHUSDT"].Fills)
		require.NoError(t, err)
		return states[len(states)-1], latest
	}
	want, wantLatest := positions(fills)
	got, gotLatest := positions(perturb(fills, 1, 9))
	require.Equal(t, want, got)
	require.Equal(t, 40, want.fills)
	require.Equal(t, wantLatest, gotLatest)
}
