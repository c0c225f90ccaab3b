package events

import (
	"encoding/json"
	"time"
)

// Trade is one public trade (CCXT unified trade): an execution between two
// parties on the exchange's tape.
//
// Rules (Validate): Exchange and Symbol are routing-key segments; TradeID,
// if set, has no white space or control characters; Price and Amount are
// positive; Side is set; TakerOrMaker, if set, is valid; Time is set.
type Trade struct {
	Exchange     string       `json:"exchange"`
	Symbol       string       `json:"symbol"`
	TradeID      string       `json:"id,omitempty"`           // the exchange's trade id
	Price        Decimal      `json:"price"`                  // in the quote asset
	Amount       Decimal      `json:"amount"`                 // in the base asset
	Side         Side         `json:"side"`                   // the taker's (aggressor's) side
	TakerOrMaker TakerOrMaker `json:"takerOrMaker,omitempty"` // optional
	Time         time.Time    `json:"datetime"`               // exchange time
}

// EventType returns TypeTrade.
func (Trade) EventType() string { return TypeTrade }

// RoutingKey returns "trade.<exchange>.<symbol>".
func (t Trade) RoutingKey() string { return key3(KindTrade, t.Exchange, t.Symbol) }

// PartitionKey returns the symbol.
func (t Trade) PartitionKey() string { return t.Symbol }

// OccurredAt returns Time.
func (t Trade) OccurredAt() time.Time { return t.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (t Trade) Validate() error { return t.validate() }

// validate is Validate without copying the event (for the codec).
func (t *Trade) validate() error { return t.check(proof{}) }

// check is validate, skipping the rules that p says the fast decoder has
// verified.
func (t *Trade) check(p proof) error {
	c := checker{typ: TypeTrade}
	if !p.segments {
		c.segment("exchange", t.Exchange)
		c.segment("symbol", t.Symbol)
	}
	c.id("id", t.TradeID, false)
	c.positive("price", t.Price)
	c.positive("amount", t.Amount)
	c.enum("side", t.Side, true, t.Side == 0)
	c.enum("takerOrMaker", t.TakerOrMaker, false, t.TakerOrMaker == 0)
	c.time("datetime", t.Time, true)
	return c.result()
}

// MarshalJSON encodes t with its time in UTC.
func (t Trade) MarshalJSON() ([]byte, error) {
	if b, ok := t.appendJSON(make([]byte, 0, 256)); ok {
		return b, nil // the same bytes as below, see fastjson.go
	}
	type plain Trade
	p := plain(t)
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}
