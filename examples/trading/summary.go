package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/tradebus/tradebus/events"
)

// Line is one symbol on one exchange in the summary. Quantities are in
// the base asset (BTC, ETH, SOL), prices and money in USDT.
type Line struct {
	Exchange, Symbol string
	Buys, Sells      int // signals
	Orders           int
	Fills            int
	Bought, Sold     events.Decimal // base asset
	Position         events.Decimal // Bought − Sold
	AvgPrice         events.Decimal // average entry price of the open position
	LastPrice        events.Decimal // last public trade
	Realized         events.Decimal
	Unrealized       events.Decimal // Position × (LastPrice − AvgPrice)
	Exposure         events.Decimal // |Position| × LastPrice
	RiskChecks       int            // position updates the risk monitor checked
	PeakExposure     events.Decimal // the largest |position| × avg entry price it saw
	OverLimit        int            // updates over exposureLimit
}

// BusStats is what the message bus and its reliability stack did. The
// middleware counters come from every group's middleware.Stack.
type BusStats struct {
	Published   int64            // distinct events (event ids) published
	Resent      int64            // sends of an event id already sent (publisher.WithRetry)
	Handled     map[string]int64 // by event type: handler calls that succeeded
	Retries     uint64           // handler attempts repeated after a transient error
	DeadLetters uint64           // events published to deadletter.<group>
	Duplicates  uint64           // deliveries skipped by dedup: event id already handled

	InjectedFailures, InjectedDuplicates, InjectedMalformed int64 // -chaos
}

// Summary is a run's result: the same seed gives the same Lines, signals,
// orders and fills on every transport, with or without -chaos.
type Summary struct {
	Transport  string
	Ticks      int
	Seed       uint64
	Lines      []Line
	Buys       int
	Sells      int
	Orders     int
	Approved   int // orders the pre-trade risk check approved
	Refused    int // and refused (not sent to the venue)
	Acks       int
	Partial    int // fills leaving the order partially filled
	Filled     int // fills completing the order
	Realized   events.Decimal
	Unrealized events.Decimal
	Exposure   events.Decimal
	Bus        BusStats
	Portfolio  PortfolioStats
}

// PortfolioStats says how the portfolio service kept its state.
type PortfolioStats struct {
	Projection bool   // a projection of the exec history (transport keeps history)
	Restarts   int    // kills and restarts from its snapshot (KillPortfolioAt)
	Applied    uint64 // exec reports its state includes
	Snapshots  int    // snapshots saved
}

func (s *system) summary() *Summary {
	sum := &Summary{Ticks: s.cfg.Ticks, Seed: s.cfg.Seed}
	byKey := map[string]*Line{}
	line := func(ex, sym string) *Line {
		k := ex + "|" + sym
		if byKey[k] == nil {
			byKey[k] = &Line{Exchange: ex, Symbol: sym}
		}
		return byKey[k]
	}
	for _, sig := range s.signals {
		l := line(sig.Exchange, sig.Symbol)
		if sig.Action == events.SignalBuy {
			l.Buys++
			sum.Buys++
		} else {
			l.Sells++
			sum.Sells++
		}
	}
	for _, o := range s.orders {
		line(o.Exchange, o.Symbol).Orders++
		sum.Orders++
	}
	s.viewPortfolio(func(pf *portfolio) {
		for k, b := range pf.Books {
			ex, sym, _ := strings.Cut(k, "|")
			l := line(ex, sym)
			sum.Acks += len(b.Acks)
			var p position
			if states, err := replay(b.Fills); err == nil && len(states) > 0 {
				p = states[len(states)-1]
			}
			for _, f := range b.Fills {
				if f.OrdStatus == events.OrdStatusFilled {
					sum.Filled++
				} else {
					sum.Partial++
				}
			}
			l.Fills, l.Bought, l.Sold, l.Position, l.AvgPrice, l.Realized = p.fills, p.bought, p.sold, p.qty, p.avg, p.realized
			l.LastPrice = s.lastTrade[k].Price
			if !p.qty.IsZero() {
				if u, err := p.qty.MulRound(l.LastPrice.Sub(p.avg), 8); err == nil {
					l.Unrealized = u
				}
				if e, err := p.qty.Abs().MulRound(l.LastPrice, 8); err == nil {
					l.Exposure = e
				}
			}
			for _, e := range s.risk[k] {
				l.RiskChecks++
				if e.Cmp(l.PeakExposure) > 0 {
					l.PeakExposure = e
				}
				if e.Cmp(exposureLimit) > 0 {
					l.OverLimit++
				}
			}
			sum.Realized = sum.Realized.Add(l.Realized)
			sum.Unrealized = sum.Unrealized.Add(l.Unrealized)
			sum.Exposure = sum.Exposure.Add(l.Exposure)
		}
	})
	for _, l := range byKey {
		sum.Lines = append(sum.Lines, *l)
	}
	sort.Slice(sum.Lines, func(i, j int) bool {
		a, b := sum.Lines[i], sum.Lines[j]
		return a.Exchange+"|"+a.Symbol < b.Exchange+"|"+b.Symbol
	})
	sum.Bus = s.stats()
	sum.Bus.Handled = map[string]int64{}
	s.counts.Range(func(k, v any) bool {
		sum.Bus.Handled[k.(string)] = v.(interface{ Load() int64 }).Load()
		return true
	})
	sum.Bus.InjectedFailures = s.chaos.failures.Load()
	s.executorMu.Lock()
	for _, refusal := range s.decisions {
		if refusal == "" {
			sum.Approved++
		} else {
			sum.Refused++
		}
	}
	s.executorMu.Unlock()
	sum.Bus.InjectedDuplicates = s.chaos.duplicates.Load()
	sum.Bus.InjectedMalformed = s.chaos.malformed.Load()
	return sum
}

// Print writes the summary for a trader: what the strategy decided, what
// was traded, the resulting positions and risk, then what the message bus
// did to get there.
func (sum *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "Simulated market: %d ticks of BTCUSDT, ETHUSDT and SOLUSDT on binance and kraken (seed %d), on %s.\n\n",
		sum.Ticks, sum.Seed, sum.Transport)

	fmt.Fprintf(w, "Strategy sma5x20 (buy when the %d-tick average of the mid price crosses above the %d-tick one, sell below)\n",
		shortWindow, longWindow)
	fmt.Fprintf(w, "  signals: %d (%d buy, %d sell)\n", sum.Buys+sum.Sells, sum.Buys, sum.Sells)
	fmt.Fprintf(w, "  pre-trade risk check (request-reply to the risk service; limit %s USDT of notional per order):\n", usd(maxOrderNotional))
	fmt.Fprintf(w, "           %d approved, %d refused\n", sum.Approved, sum.Refused)
	fmt.Fprintf(w, "  orders:  %d limit orders at the signal's mid price, %d acknowledged by the venue\n", sum.Orders, sum.Acks)
	fmt.Fprintf(w, "  fills:   %d (%d partially filled, %d filled)\n\n", sum.Partial+sum.Filled, sum.Partial, sum.Filled)

	fmt.Fprintln(w, "Positions (quantities in the base asset; prices and PnL in USDT)")
	const row = "%-8s %-8s %7s %5s %7s %7s %8s %10s %10s %12s %14s %10s\n"
	fmt.Fprintf(w, row, "exchange", "symbol", "signals", "fills", "bought", "sold", "position", "avg entry", "last", "realized PnL", "unrealized PnL", "exposure")
	for _, l := range sum.Lines {
		fmt.Fprintf(w, row, l.Exchange, l.Symbol, strconv.Itoa(l.Buys+l.Sells), strconv.Itoa(l.Fills),
			l.Bought, l.Sold, l.Position, usd(l.AvgPrice), usd(l.LastPrice), usd(l.Realized), usd(l.Unrealized), usd(l.Exposure))
	}
	fmt.Fprintf(w, row, "total", "", strconv.Itoa(sum.Buys+sum.Sells), strconv.Itoa(sum.Partial+sum.Filled), "", "", "", "", "",
		usd(sum.Realized), usd(sum.Unrealized), usd(sum.Exposure))
	fmt.Fprintln(w, "  exposure = |position| × last trade price, USDT; unrealized = position × (last − avg entry)")
	fmt.Fprintln(w)

	checks, over := 0, 0
	var breaches []string
	for _, l := range sum.Lines {
		checks += l.RiskChecks
		over += l.OverLimit
		if l.OverLimit > 0 {
			updates := "updates"
			if l.OverLimit == 1 {
				updates = "update"
			}
			breaches = append(breaches, fmt.Sprintf("%s %s (%d %s, peak %s USDT)", l.Exchange, l.Symbol, l.OverLimit, updates, usd(l.PeakExposure)))
		}
	}
	fmt.Fprintf(w, "Risk monitor (limit %s USDT per position; exposure at entry = |position| × avg entry price)\n", usd(exposureLimit))
	fmt.Fprintf(w, "  position updates checked: %d, over the limit: %d", checks, over)
	if len(breaches) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(breaches, ", "))
	}
	fmt.Fprint(w, "\n\n")

	b := sum.Bus
	kinds := make([]string, 0, len(b.Handled))
	var handled int64
	for k, n := range b.Handled {
		kinds = append(kinds, k)
		handled += n
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", strings.TrimSuffix(strings.TrimPrefix(k, "tradebus."), ".v1"), b.Handled[k])
	}
	fmt.Fprintln(w, "Message bus (each service a consumer group behind middleware.Default)")
	fmt.Fprintf(w, "  events:             %d published, %d handled (%s)\n", b.Published, handled, strings.Join(parts, ", "))
	fmt.Fprintf(w, "  retries:            %d handler attempts repeated after a transient error\n", b.Retries)
	fmt.Fprintf(w, "  dead letters:       %d events moved to deadletter.<group> (could not be handled)\n", b.DeadLetters)
	fmt.Fprintf(w, "  duplicates skipped: %d deliveries of an event already handled\n", b.Duplicates)
	fmt.Fprintf(w, "  publisher resends:  %d events sent again, same id, after a broker error\n", b.Resent)
	if p := sum.Portfolio; p.Projection {
		fmt.Fprintf(w, "  portfolio:          a projection of the exec history: %d reports folded, %d snapshots, killed and rebuilt %d times\n",
			p.Applied, p.Snapshots, p.Restarts)
	}
	if b.InjectedFailures+b.InjectedDuplicates+b.InjectedMalformed > 0 {
		fmt.Fprintf(w, "  injected by -chaos: %d handler failures, %d duplicate publishes, %d malformed events\n",
			b.InjectedFailures, b.InjectedDuplicates, b.InjectedMalformed)
	}
}

// usd formats an amount of USDT with two decimals and thousands
// separators: 59,606.20.
func usd(d events.Decimal) string {
	s := d.Round(2).String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + "." + frac
	if neg && strings.Trim(out, "0.,") != "" {
		out = "-" + out
	}
	return out
}
