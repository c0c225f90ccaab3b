package main

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tradebus/tradebus/events"
)

// position is the portfolio's book for one symbol on one exchange.
type position struct {
	qty          events.Decimal // signed
	avg          events.Decimal // average entry price
	realized     events.Decimal
	bought, sold events.Decimal // base asset, both ≥ 0
	fills        int
}

// apply books one fill (qty signed: + buy, − sell) at px.
func (p *position) apply(qty, px events.Decimal) error {
	p.fills++
	if qty.Sign() > 0 {
		p.bought = p.bought.Add(qty)
	} else {
		p.sold = p.sold.Add(qty.Neg())
	}
	if p.qty.IsZero() || p.qty.Sign() == qty.Sign() {
		// Opening or adding: new average price.
		cost, err := p.qty.Abs().Mul(p.avg)
		if err != nil {
			return err
		}
		add, err := qty.Abs().Mul(px)
		if err != nil {
			return err
		}
		p.avg, err = cost.Add(add).DivRound(p.qty.Abs().Add(qty.Abs()), 8)
		if err != nil {
			return err
		}
		p.qty = p.qty.Add(qty)
		return nil
	}
	// Reducing, closing or flipping.
	closing := qty.Abs()
	if closing.Cmp(p.qty.Abs()) > 0 {
		closing = p.qty.Abs()
	}
	pnl, err := closing.Mul(px.Sub(p.avg))
	if err != nil {
		return err
	}
	if p.qty.Sign() < 0 {
		pnl = pnl.Neg()
	}
	p.realized = p.realized.Add(pnl)
	wasLong := p.qty.Sign() > 0
	p.qty = p.qty.Add(qty)
	switch {
	case p.qty.IsZero():
		p.avg = events.Decimal{}
	case (p.qty.Sign() > 0) != wasLong:
		p.avg = px // flipped: the remainder opened at px
	}
	return nil
}

// book is the portfolio's record of one symbol on one exchange: every
// fill, in time order. The position is the fills replayed in that order,
// so it does not depend on the order fills arrive in, and a fill seen
// twice (same execution id) counts once.
type book struct {
	Fills []events.ExecutionReport `json:"fills"` // sorted by (TransactTime, ExecID)
	Acks  map[string]bool          `json:"acks"`  // ExecIDs of acknowledgements
	Seen  map[string]bool          `json:"seen"`  // ExecIDs of fills
}

// portfolio is the portfolio service's state: a book per exchange|symbol.
// Where the transport keeps history it is an event-sourced projection of
// the execution reports (package projection), snapshotted and rebuilt on
// restart; elsewhere a consumer group's handler keeps it.
type portfolio struct {
	Books map[string]*book `json:"books"`
}

func newPortfolio() portfolio { return portfolio{Books: map[string]*book{}} }

func fillBefore(a, b events.ExecutionReport) int {
	if c := a.TransactTime.Compare(b.TransactTime); c != 0 {
		return c
	}
	return strings.Compare(a.ExecID, b.ExecID)
}

// replay returns the position after each of fills.
func replay(fills []events.ExecutionReport) ([]position, error) {
	out := make([]position, len(fills))
	var p position
	for i, f := range fills {
		qty := f.LastQty
		if f.Side == events.SideSell {
			qty = qty.Neg()
		}
		if err := p.apply(qty, f.LastPx); err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// exec books execution report r: it returns the Position events the
// change publishes and commit, which applies the change to pf (call it
// once they are published, so that a failed publish leaves pf as it was
// and the report can be tried again). A fill that arrives after later ones
// (possible after a broker restart) also republishes the positions after
// it, corrected; each Position is stamped with its fill's time. Nothing to
// publish and a nil commit: r changes nothing (or only records an ack).
func (pf *portfolio) exec(ctx context.Context, log *slog.Logger, r events.ExecutionReport) ([]events.Event, func(), error) {
	k := r.Exchange + "|" + r.Symbol
	b := pf.Books[k]
	if b == nil {
		b = &book{Acks: map[string]bool{}, Seen: map[string]bool{}}
		pf.Books[k] = b
	}
	switch {
	case r.ExecType == events.ExecTypeNew:
		b.Acks[r.ExecID] = true
		return nil, nil, nil
	case r.ExecType != events.ExecTypeTrade || b.Seen[r.ExecID]:
		return nil, nil, nil
	}
	i, _ := slices.BinarySearchFunc(b.Fills, r, fillBefore)
	fills := slices.Insert(slices.Clone(b.Fills), i, r)
	states, err := replay(fills)
	if err != nil {
		return nil, nil, err
	}
	if env, ok := events.EnvelopeFromContext(ctx); ok {
		log.Info("fill", "exchange", r.Exchange, "symbol", r.Symbol, "side", r.Side, "status", r.OrdStatus,
			"qty", r.LastQty, "price", r.LastPx, "filled", r.CumQty, "of", r.OrderQty, "position", states[i].qty,
			"clOrdID", r.ClOrdID, "correlationid", env.CorrelationID, "causationid", env.CausationID)
	}
	out := make([]events.Event, 0, len(fills)-i)
	for j := i; j < len(fills); j++ {
		out = append(out, events.Position{
			Account: account, Exchange: r.Exchange, Symbol: r.Symbol,
			Quantity: states[j].qty, AvgPrice: states[j].avg, RealizedPnL: states[j].realized,
			Time: fills[j].TransactTime,
		})
	}
	return out, func() { b.Fills, b.Seen[r.ExecID] = fills, true }, nil
}

// applyExec books r into pf and publishes the positions it changes.
func (s *system) applyExec(ctx context.Context, pf *portfolio, r events.ExecutionReport) error {
	out, commit, err := pf.exec(ctx, s.log, r)
	if err != nil || commit == nil {
		return err
	}
	if err := s.pub.Publish(ctx, out...); err != nil {
		return err
	}
	commit()
	return nil
}

// onExec is the portfolio service as a consumer group's handler (on a
// transport without history): fills move positions, and every change is
// published as a Position event.
func (s *system) onExec(ctx context.Context, r events.ExecutionReport) error {
	s.portfolioMu.Lock()
	defer s.portfolioMu.Unlock()
	return s.applyExec(ctx, &s.pf, r)
}

// viewPortfolio calls fn with the portfolio's state, wherever it is kept.
func (s *system) viewPortfolio(fn func(*portfolio)) {
	if svc := s.portfolioSvc.Load(); svc != nil {
		svc.view(fn)
		return
	}
	s.portfolioMu.Lock()
	defer s.portfolioMu.Unlock()
	fn(&s.pf)
}

// onTrade keeps the latest public trade per symbol, to mark positions.
func (s *system) onTrade(_ context.Context, t events.Trade) error {
	k := t.Exchange + "|" + t.Symbol
	s.portfolioMu.Lock()
	if last, ok := s.lastTrade[k]; !ok || t.Time.After(last.Time) {
		s.lastTrade[k] = t
	}
	s.portfolioMu.Unlock()
	return nil
}

// exposureLimit is the risk monitor's limit per position, in USDT.
var exposureLimit = events.NewDecimalFromInt(1000)

// onPosition is the risk monitor: it checks every position against
// exposureLimit, exposure being |quantity| × average entry price (USDT).
// A corrected position (same time) replaces the one before it.
func (s *system) onPosition(_ context.Context, p events.Position) error {
	exposure, err := p.Quantity.Abs().Mul(p.AvgPrice)
	if err != nil {
		return err
	}
	k := p.Exchange + "|" + p.Symbol
	s.riskMu.Lock()
	if s.risk[k] == nil {
		s.risk[k] = map[time.Time]events.Decimal{}
	}
	s.risk[k][p.Time] = exposure
	s.riskMu.Unlock()
	if exposure.Cmp(exposureLimit) > 0 {
		s.log.Info("risk: over the limit", "exchange", p.Exchange, "symbol", p.Symbol,
			"position", p.Quantity, "exposureUSDT", exposure, "limitUSDT", exposureLimit)
	}
	return nil
}
