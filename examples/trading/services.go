package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/rpc"
)

var (
	exchanges = []string{"binance", "kraken"}
	symbols   = []struct {
		name       string
		startCents int64
		stepCents  int64
		lot        events.Decimal
	}{
		{"BTCUSDT", 6_000_000, 4_000, events.MustDecimal("0.01")},
		{"ETHUSDT", 300_000, 250, events.MustDecimal("0.1")},
		{"SOLUSDT", 15_000, 15, events.MustDecimal("1")},
	}
	epoch = time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)
)

const (
	shortWindow = 5
	longWindow  = 20
	account     = "demo"
)

func cents(c int64) events.Decimal {
	d, err := events.NewDecimalFromScaled(c, 2)
	if err != nil {
		panic(err) // unreachable: two places always fit
	}
	return d
}

func thousandths(n int64) events.Decimal {
	d, err := events.NewDecimalFromScaled(n, 3)
	if err != nil {
		panic(err)
	}
	return d
}

// tickEvery is the simulated time between two market-data ticks.
const tickEvery = 100 * time.Millisecond

// tickOf is the tick an event time belongs to: every event a tick causes
// (ticker, trade, signal, order, executions) is stamped within it.
func tickOf(t time.Time) int { return int(t.Sub(epoch) / tickEvery) }

// simulate is the market-data gateway: a seeded random walk per symbol and
// exchange, published as tickers and trades.
func (s *system) simulate(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(s.cfg.Seed, s.cfg.Seed^0x9e3779b97f4a7c15))
	mids := make([]int64, len(symbols)*len(exchanges))
	for i := range mids {
		mids[i] = symbols[i/len(exchanges)].startCents
	}
	batch := make([]events.Event, 0, 2*len(mids))
	for tick := range s.cfg.Ticks {
		batch = batch[:0]
		for si, sym := range symbols {
			for ei, ex := range exchanges {
				i := si*len(exchanges) + ei
				mids[i] += rng.Int64N(2*sym.stepCents+1) - sym.stepCents
				if mids[i] < 100 {
					mids[i] = 100
				}
				spread := 1 + rng.Int64N(5)
				at := epoch.Add(time.Duration(tick)*tickEvery + time.Duration(i)*time.Microsecond + 7)
				bid, ask := cents(mids[i]-spread), cents(mids[i]+spread)
				batch = append(batch, events.Ticker{
					Exchange: ex, Symbol: sym.name,
					Bid: bid, BidSize: thousandths(1 + rng.Int64N(5000)),
					Ask: ask, AskSize: thousandths(1 + rng.Int64N(5000)),
					Last: cents(mids[i]),
					Time: at,
				})
				side, px := events.SideBuy, ask
				if rng.IntN(2) == 0 {
					side, px = events.SideSell, bid
				}
				batch = append(batch, events.Trade{
					Exchange: ex, Symbol: sym.name,
					TradeID: fmt.Sprintf("%s-%s-%d", ex, sym.name, tick),
					Price:   px, Amount: thousandths(1 + rng.Int64N(2000)),
					Side: side, TakerOrMaker: events.Taker,
					Time: at,
				})
			}
		}
		if s.chaos.chaosTick(tick, s.cfg.Ticks) {
			// Which event of the tick gets a duplicate and a malformed
			// copy: tickers and trades of every symbol in turn.
			if err := s.publishWithChaos(ctx, batch, s.chaos.duplicates.Load()*5%int64(len(batch))); err != nil {
				return err
			}
			continue
		}
		if err := s.pub.Publish(ctx, batch...); err != nil {
			return err
		}
	}
	return nil
}

// series is the strategy's state for one symbol on one exchange. Ticks
// are taken in their order: one that arrives early (possible after a
// broker restart redelivers) waits in pending for the ones before it, and
// one seen before is skipped, so the signals depend only on the market data.
type series struct {
	mu       sync.Mutex
	next     int                   // the next tick to take
	pending  map[int]events.Ticker // ticks that arrived before their turn
	mids     []events.Decimal      // last longWindow mid prices
	primed   bool
	wasAbove bool
}

func (ser *series) clone() *series {
	c := &series{next: ser.next, pending: make(map[int]events.Ticker, len(ser.pending)+1),
		mids: append([]events.Decimal(nil), ser.mids...), primed: ser.primed, wasAbove: ser.wasAbove}
	for k, v := range ser.pending {
		c.pending[k] = v
	}
	return c
}

func mean(xs []events.Decimal) events.Decimal {
	var sum events.Decimal
	for _, x := range xs {
		sum = sum.Add(x)
	}
	m, err := sum.DivRound(events.NewDecimalFromInt(int64(len(xs))), 8)
	if err != nil {
		panic(err) // unreachable: len(xs) > 0
	}
	return m
}

// onTicker is a moving-average crossover strategy: a BUY signal when the
// short average of the mid price crosses above the long one, SELL below.
func (s *system) onTicker(ctx context.Context, t events.Ticker) error {
	k := t.Exchange + "|" + t.Symbol
	s.strategyMu.Lock()
	ser := s.series[k]
	if ser == nil {
		ser = &series{pending: map[int]events.Ticker{}}
		s.series[k] = ser
	}
	s.strategyMu.Unlock()

	ser.mu.Lock()
	defer ser.mu.Unlock()
	n := tickOf(t.Time)
	if _, held := ser.pending[n]; held || n < ser.next {
		return nil // seen before
	}
	// Work on a copy and keep it only once its signals are published: a
	// failed publish leaves the series as it was for the redelivery.
	work := ser.clone()
	work.pending[n] = t
	var sigs []events.Event
	for {
		tk, ok := work.pending[work.next]
		if !ok {
			break
		}
		delete(work.pending, work.next)
		work.next++
		sig, err := work.step(tk)
		if err != nil {
			return err
		}
		if sig != nil {
			sigs = append(sigs, *sig)
			s.log.Info("signal", "exchange", sig.Exchange, "symbol", sig.Symbol, "action", sig.Action,
				"strength", sig.Strength, "price", sig.Price, "reason", sig.Reason)
		}
	}
	if len(sigs) > 0 {
		if err := s.pub.Publish(ctx, sigs...); err != nil {
			return err
		}
	}
	ser.next, ser.pending, ser.mids, ser.primed, ser.wasAbove = work.next, work.pending, work.mids, work.primed, work.wasAbove
	return nil
}

// step takes one tick and returns the signal it gives, if any.
func (ser *series) step(t events.Ticker) (*events.Signal, error) {
	mid, err := t.Bid.Add(t.Ask).DivRound(events.NewDecimalFromInt(2), 8)
	if err != nil {
		return nil, err
	}
	ser.mids = append(ser.mids, mid)
	if len(ser.mids) > longWindow {
		ser.mids = ser.mids[1:]
	}
	if len(ser.mids) < longWindow {
		return nil, nil
	}
	short, long := mean(ser.mids[longWindow-shortWindow:]), mean(ser.mids)
	above := short.Cmp(long) > 0
	primed, wasAbove := ser.primed, ser.wasAbove
	ser.primed, ser.wasAbove = true, above
	if !primed || above == wasAbove {
		return nil, nil
	}
	gap, err := short.Sub(long).Abs().MulRound(events.NewDecimalFromInt(1000), 8)
	if err != nil {
		return nil, err
	}
	strength, err := gap.DivRound(long, 4)
	if err != nil {
		return nil, err
	}
	if strength.Cmp(events.NewDecimalFromInt(1)) > 0 {
		strength = events.NewDecimalFromInt(1)
	}
	action, rel := events.SignalSell, "below"
	if above {
		action, rel = events.SignalBuy, "above"
	}
	return &events.Signal{
		Strategy: "sma5x20", Exchange: t.Exchange, Symbol: t.Symbol,
		Action: action, Strength: strength, Price: mid.Round(2),
		Reason: fmt.Sprintf("%d-tick average crossed %s the %d-tick average", shortWindow, rel, longWindow),
		Time:   t.Time,
	}, nil
}

// onSignal is the executor: each BUY or SELL signal becomes a limit order
// whose size grows with the signal's strength.
func (s *system) onSignal(ctx context.Context, sig events.Signal) error {
	if sig.Action == events.SignalHold {
		return nil
	}
	lot := events.NewDecimalFromInt(1)
	for _, sym := range symbols {
		if sym.name == sig.Symbol {
			lot = sym.lot
		}
	}
	lots, err := sig.Strength.MulRound(events.NewDecimalFromInt(4), 0)
	if err != nil {
		return err
	}
	qty, err := lot.Mul(lots.Add(events.NewDecimalFromInt(1)))
	if err != nil {
		return err
	}
	side := events.SideBuy
	if sig.Action == events.SignalSell {
		side = events.SideSell
	}
	// The client order id is the signal's tick: a signal seen twice gives
	// the same order, which the venue and the portfolio recognise.
	n := tickOf(sig.Time)
	s.executorMu.Lock()
	s.signals[fmt.Sprintf("%s|%s|%d", sig.Exchange, sig.Symbol, n)] = sig
	s.executorMu.Unlock()
	order := events.Order{
		Action: events.OrderNew, Exchange: sig.Exchange, Symbol: sig.Symbol,
		ClOrdID: fmt.Sprintf("%s-%s-%05d", sig.Exchange, sig.Symbol, n),
		Side:    side, OrdType: events.OrdTypeLimit, TimeInForce: events.TimeInForceGTC,
		OrderQty: qty, Price: sig.Price, Account: account,
		Time: sig.Time.Add(time.Millisecond),
	}
	// Pre-trade risk check: ask the risk service (request-reply) before
	// the order goes out.
	var refused *rpc.Error
	if err := s.checkOrder(ctx, order); errors.As(err, &refused) {
		s.log.Info("order refused by the pre-trade check", "clOrdID", order.ClOrdID, "exchange", order.Exchange,
			"symbol", order.Symbol, "side", side, "qty", qty, "limit", order.Price, "reason", refused.Message)
		return nil
	} else if err != nil {
		return err
	}
	if env, ok := events.EnvelopeFromContext(ctx); ok {
		s.log.Info("order", "clOrdID", order.ClOrdID, "exchange", order.Exchange, "symbol", order.Symbol,
			"side", side, "qty", qty, "limit", order.Price,
			"correlationid", env.CorrelationID, "causationid", env.ID)
	}
	return s.pub.Publish(ctx, order)
}

// onOrder is a venue simulator: it acknowledges each order, fills about
// half of it, then the rest, at the limit price.
func (s *system) onOrder(ctx context.Context, o events.Order) error {
	s.venueMu.Lock()
	s.orders[o.ClOrdID] = o
	s.venueMu.Unlock()
	orderID := "V-" + o.ClOrdID
	report := func(n int, et events.ExecType, st events.OrdStatus, lastQty, cum events.Decimal) events.ExecutionReport {
		r := events.ExecutionReport{
			Exchange: o.Exchange, Symbol: o.Symbol, OrderID: orderID, ClOrdID: o.ClOrdID,
			ExecID: fmt.Sprintf("%s-%d", orderID, n), ExecType: et, OrdStatus: st,
			Side: o.Side, OrdType: o.OrdType, TimeInForce: o.TimeInForce,
			OrderQty: o.OrderQty, Price: o.Price, CumQty: cum, LeavesQty: o.OrderQty.Sub(cum),
			TransactTime: o.Time.Add(time.Duration(n) * time.Millisecond), Account: o.Account,
		}
		if !cum.IsZero() {
			r.AvgPx = o.Price
		}
		if et == events.ExecTypeTrade {
			r.LastQty, r.LastPx = lastQty, o.Price
		}
		return r
	}
	var zero events.Decimal
	reports := []events.Event{report(1, events.ExecTypeNew, events.OrdStatusNew, zero, zero)}
	half, err := o.OrderQty.DivRound(events.NewDecimalFromInt(2), uint8(max(o.OrderQty.Places(), 0)))
	if err != nil {
		return err
	}
	if half.IsPositive() && half.Cmp(o.OrderQty) < 0 {
		reports = append(reports,
			report(2, events.ExecTypeTrade, events.OrdStatusPartiallyFilled, half, half),
			report(3, events.ExecTypeTrade, events.OrdStatusFilled, o.OrderQty.Sub(half), o.OrderQty))
	} else {
		reports = append(reports, report(2, events.ExecTypeTrade, events.OrdStatusFilled, o.OrderQty, o.OrderQty))
	}
	return s.pub.Publish(ctx, reports...)
}
