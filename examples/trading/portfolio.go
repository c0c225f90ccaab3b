package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tradebus/tradebus/events"
)

// position is the portfolio's book for one symbol on one exchange.
type position struct {
	qty      events.Decimal // signed
	avg      events.Decimal // average entry price
	realized events.Decimal
	fills    int
}

// apply books one fill (qty signed: + buy, − sell) at px.
func (p *position) apply(qty, px events.Decimal) error {
	p.fills++
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

// onExec is the portfolio service: fills move positions, and every change
// is published as a Position event.
func (s *system) onExec(ctx context.Context, r events.ExecutionReport) error {
	s.count("exec")
	if r.ExecType != events.ExecTypeTrade {
		return nil
	}
	qty := r.LastQty
	if r.Side == events.SideSell {
		qty = qty.Neg()
	}
	k := r.Exchange + "|" + r.Symbol
	s.portfolioMu.Lock()
	p := s.positions[k]
	if p == nil {
		p = &position{}
		s.positions[k] = p
	}
	err := p.apply(qty, r.LastPx)
	snap := *p
	s.portfolioMu.Unlock()
	if err != nil {
		return err
	}
	if env, ok := events.EnvelopeFromContext(ctx); ok {
		s.log.Info("fill", "execID", r.ExecID, "side", r.Side, "lastQty", r.LastQty, "lastPx", r.LastPx,
			"position", snap.qty, "correlationid", env.CorrelationID, "causationid", env.CausationID)
	}
	return s.pub.Publish(ctx, events.Position{
		Account: account, Exchange: r.Exchange, Symbol: r.Symbol,
		Quantity: snap.qty, AvgPrice: snap.avg, RealizedPnL: snap.realized,
		Time: r.TransactTime,
	})
}

// onTrade keeps the last public trade price per symbol, to mark positions.
func (s *system) onTrade(_ context.Context, t events.Trade) error {
	s.count("trade")
	s.portfolioMu.Lock()
	s.lastPrice[t.Exchange+"|"+t.Symbol] = t.Price
	s.portfolioMu.Unlock()
	return nil
}

// onPosition is the risk monitor: it tracks the largest exposure (|qty| ×
// average price) each position reached.
func (s *system) onPosition(_ context.Context, p events.Position) error {
	s.count("position")
	exposure, err := p.Quantity.Abs().Mul(p.AvgPrice)
	if err != nil {
		return err
	}
	k := p.Exchange + "|" + p.Symbol
	s.riskMu.Lock()
	if exposure.Cmp(s.maxExposure[k]) > 0 {
		s.maxExposure[k] = exposure
	}
	s.riskMu.Unlock()
	return nil
}

// Line is one position in the final summary.
type Line struct {
	Exchange, Symbol string
	Quantity         string
	AvgPrice         string
	LastPrice        string
	Realized         string
	Unrealized       string
	MaxExposure      string
	Fills            int
}

// Summary is the final portfolio: the same seed gives the same Summary on
// every transport.
type Summary struct {
	Transport  string
	Published  int64
	Handled    map[string]int64 // by event kind
	Lines      []Line
	Realized   string
	Unrealized string
}

func (s *system) summary() *Summary {
	sum := &Summary{Handled: map[string]int64{}}
	s.counts.Range(func(k, v any) bool {
		sum.Handled[k.(string)] = v.(interface{ Load() int64 }).Load()
		return true
	})
	s.portfolioMu.Lock()
	defer s.portfolioMu.Unlock()
	keys := make([]string, 0, len(s.positions))
	for k := range s.positions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var realized, unrealized events.Decimal
	for _, k := range keys {
		p := s.positions[k]
		last := s.lastPrice[k]
		var upnl events.Decimal
		if !p.qty.IsZero() {
			u, err := p.qty.MulRound(last.Sub(p.avg), 8)
			if err == nil {
				upnl = u
			}
		}
		realized, unrealized = realized.Add(p.realized), unrealized.Add(upnl)
		ex, sym, _ := strings.Cut(k, "|")
		s.riskMu.Lock()
		maxExp := s.maxExposure[k]
		s.riskMu.Unlock()
		sum.Lines = append(sum.Lines, Line{
			Exchange: ex, Symbol: sym, Quantity: p.qty.String(), AvgPrice: p.avg.String(),
			LastPrice: last.String(), Realized: p.realized.String(), Unrealized: upnl.String(),
			MaxExposure: maxExp.String(), Fills: p.fills,
		})
	}
	sum.Realized, sum.Unrealized = realized.String(), unrealized.String()
	return sum
}

// Print writes the summary as a table.
func (sum *Summary) Print(w io.Writer) {
	kinds := make([]string, 0, len(sum.Handled))
	for k := range sum.Handled {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "events published: %d; handled:", sum.Published)
	for _, k := range kinds {
		fmt.Fprintf(w, " %s=%d", k, sum.Handled[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-8s %-8s %10s %14s %14s %14s %14s %14s %5s\n",
		"exchange", "symbol", "qty", "avg price", "last", "realized", "unrealized", "max exposure", "fills")
	for _, l := range sum.Lines {
		fmt.Fprintf(w, "%-8s %-8s %10s %14s %14s %14s %14s %14s %5d\n",
			l.Exchange, l.Symbol, l.Quantity, l.AvgPrice, l.LastPrice, l.Realized, l.Unrealized, l.MaxExposure, l.Fills)
	}
	fmt.Fprintf(w, "total realized PnL: %s USDT, unrealized: %s USDT\n", sum.Realized, sum.Unrealized)
}
