package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tradebus/tradebus/events"
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
				at := epoch.Add(time.Duration(tick)*100*time.Millisecond + time.Duration(i)*time.Microsecond + 7)
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
		if err := s.pub.Publish(ctx, batch...); err != nil {
			return err
		}
	}
	return nil
}

// series is the strategy's state for one symbol on one exchange.
type series struct {
	mids      []events.Decimal // last longWindow mid prices
	primed    bool
	wasAbove  bool
	lastPrice events.Decimal
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
	s.count("ticker")
	mid, err := t.Bid.Add(t.Ask).DivRound(events.NewDecimalFromInt(2), 8)
	if err != nil {
		return err
	}
	k := t.Exchange + "|" + t.Symbol
	s.strategyMu.Lock()
	ser := s.series[k]
	if ser == nil {
		ser = &series{}
		s.series[k] = ser
	}
	ser.mids = append(ser.mids, mid)
	if len(ser.mids) > longWindow {
		ser.mids = ser.mids[1:]
	}
	var sig *events.Signal
	if len(ser.mids) == longWindow {
		short, long := mean(ser.mids[longWindow-shortWindow:]), mean(ser.mids)
		above := short.Cmp(long) > 0
		if ser.primed && above != ser.wasAbove {
			gap, err := short.Sub(long).Abs().MulRound(events.NewDecimalFromInt(1000), 8)
			if err != nil {
				s.strategyMu.Unlock()
				return err
			}
			strength, err := gap.DivRound(long, 4)
			if err != nil {
				s.strategyMu.Unlock()
				return err
			}
			if strength.Cmp(events.NewDecimalFromInt(1)) > 0 {
				strength = events.NewDecimalFromInt(1)
			}
			action := events.SignalSell
			if above {
				action = events.SignalBuy
			}
			sig = &events.Signal{
				Strategy: "sma5x20", Exchange: t.Exchange, Symbol: t.Symbol,
				Action: action, Strength: strength, Price: mid.Round(2),
				Reason: fmt.Sprintf("sma%d %s sma%d", shortWindow, map[bool]string{true: ">", false: "<"}[above], longWindow),
				Time:   t.Time,
			}
		}
		ser.primed, ser.wasAbove = true, above
	}
	s.strategyMu.Unlock()
	if sig == nil {
		return nil
	}
	return s.pub.Publish(ctx, *sig)
}

// onSignal is the executor: each BUY or SELL signal becomes a limit order
// whose size grows with the signal's strength.
func (s *system) onSignal(ctx context.Context, sig events.Signal) error {
	s.count("signal")
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
	k := sig.Exchange + "|" + sig.Symbol
	s.executorMu.Lock()
	s.orderSeq[k]++
	n := s.orderSeq[k]
	s.executorMu.Unlock()
	order := events.Order{
		Action: events.OrderNew, Exchange: sig.Exchange, Symbol: sig.Symbol,
		ClOrdID: fmt.Sprintf("%s-%s-%04d", sig.Exchange, sig.Symbol, n),
		Side:    side, OrdType: events.OrdTypeLimit, TimeInForce: events.TimeInForceGTC,
		OrderQty: qty, Price: sig.Price, Account: account,
		Time: sig.Time.Add(time.Millisecond),
	}
	if env, ok := events.EnvelopeFromContext(ctx); ok {
		s.log.Info("order", "clOrdID", order.ClOrdID, "side", side, "qty", qty, "px", order.Price,
			"correlationid", env.CorrelationID, "causationid", env.ID)
	}
	return s.pub.Publish(ctx, order)
}

// onOrder is a venue simulator: it acknowledges each order, fills about
// half of it, then the rest, at the limit price.
func (s *system) onOrder(ctx context.Context, o events.Order) error {
	s.count("order")
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
