package events

import (
	"encoding/json"
	"time"
)

// Ticker is a top-of-book and 24-hour statistics update for one market
// (CCXT unified ticker). Prices that the exchange did not send are zero and
// omitted from JSON.
//
// Rules (Validate): Exchange and Symbol are routing-key segments; at least
// one of Bid, Ask, Last is set; every price set is positive; sizes and
// volumes are not negative; Bid <= Ask when both are set (a crossed book is
// rejected); Low <= High when both are set; Time is set.
type Ticker struct {
	Exchange    string    `json:"exchange"`
	Symbol      string    `json:"symbol"`
	Bid         Decimal   `json:"bid,omitzero"`         // best bid price
	BidSize     Decimal   `json:"bidVolume,omitzero"`   // amount at the best bid
	Ask         Decimal   `json:"ask,omitzero"`         // best ask price
	AskSize     Decimal   `json:"askVolume,omitzero"`   // amount at the best ask
	Last        Decimal   `json:"last,omitzero"`        // last trade price
	High        Decimal   `json:"high,omitzero"`        // 24h high
	Low         Decimal   `json:"low,omitzero"`         // 24h low
	Volume      Decimal   `json:"baseVolume,omitzero"`  // 24h volume in the base asset
	QuoteVolume Decimal   `json:"quoteVolume,omitzero"` // 24h volume in the quote asset
	Time        time.Time `json:"datetime"`             // exchange time
}

// EventType returns TypeTicker.
func (Ticker) EventType() string { return TypeTicker }

// RoutingKey returns "ticker.<exchange>.<symbol>".
func (t Ticker) RoutingKey() string { return key3(KindTicker, t.Exchange, t.Symbol) }

// PartitionKey returns the symbol.
func (t Ticker) PartitionKey() string { return t.Symbol }

// OccurredAt returns Time.
func (t Ticker) OccurredAt() time.Time { return t.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (t Ticker) Validate() error { return t.validate() }

// validate is Validate without copying the event (for the codec).
func (t *Ticker) validate() error { return t.check(proof{}) }

// check is validate, skipping the rules that p says the fast decoder has
// verified.
func (t *Ticker) check(p proof) error {
	c := checker{typ: TypeTicker}
	if !p.segments {
		c.segment("exchange", t.Exchange)
		c.segment("symbol", t.Symbol)
	}
	// Each of these fails exactly when its decimal is negative: one test
	// of the sign flags clears them all in the common case.
	if t.Bid.neg || t.BidSize.neg || t.Ask.neg || t.AskSize.neg || t.Last.neg ||
		t.High.neg || t.Low.neg || t.Volume.neg || t.QuoteVolume.neg {
		c.optPositive("bid", t.Bid)
		c.nonNegative("bidVolume", t.BidSize)
		c.optPositive("ask", t.Ask)
		c.nonNegative("askVolume", t.AskSize)
		c.optPositive("last", t.Last)
		c.optPositive("high", t.High)
		c.optPositive("low", t.Low)
		c.nonNegative("baseVolume", t.Volume)
		c.nonNegative("quoteVolume", t.QuoteVolume)
	}
	if c.err == nil && t.Bid.IsZero() && t.Ask.IsZero() && t.Last.IsZero() {
		c.fail("last", "0", "a ticker needs at least one of bid, ask, last")
	}
	if c.err == nil && !t.Bid.IsZero() && !t.Ask.IsZero() && t.Bid.Cmp(t.Ask) > 0 {
		c.fail("bid", t.Bid.String(), "crossed: bid above ask "+t.Ask.String())
	}
	if c.err == nil && !t.High.IsZero() && !t.Low.IsZero() && t.Low.Cmp(t.High) > 0 {
		c.fail("low", t.Low.String(), "above high "+t.High.String())
	}
	c.time("datetime", t.Time, true)
	return c.result()
}

// MarshalJSON encodes t with its time in UTC.
func (t Ticker) MarshalJSON() ([]byte, error) {
	if b, ok := t.appendJSON(make([]byte, 0, 256)); ok {
		return b, nil // the same bytes as below, see fastjson.go
	}
	type plain Ticker
	p := plain(t)
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}
