package events

import (
	"encoding/json"
	"time"
)

// Position is the holding of one account in one market.
//
// Rules (Validate): Account is optional printable text; Exchange and
// Symbol are routing-key segments; Quantity is signed (negative = short);
// AvgPrice (average entry price) is positive when Quantity is not 0 and not
// negative otherwise; RealizedPnL may have any sign; Time is set.
type Position struct {
	Account     string    `json:"account,omitempty"`
	Exchange    string    `json:"exchange"`
	Symbol      string    `json:"symbol"`
	Quantity    Decimal   `json:"quantity"`    // signed, base asset
	AvgPrice    Decimal   `json:"avgPrice"`    // average entry price
	RealizedPnL Decimal   `json:"realizedPnl"` // in the quote asset
	Time        time.Time `json:"datetime"`
}

// EventType returns TypePosition.
func (Position) EventType() string { return TypePosition }

// RoutingKey returns "position.<exchange>.<symbol>".
func (p Position) RoutingKey() string { return key3(KindPosition, p.Exchange, p.Symbol) }

// PartitionKey returns the symbol.
func (p Position) PartitionKey() string { return p.Symbol }

// OccurredAt returns Time.
func (p Position) OccurredAt() time.Time { return p.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (p Position) Validate() error {
	c := checker{typ: TypePosition}
	c.text("account", p.Account, false)
	c.segment("exchange", p.Exchange)
	c.segment("symbol", p.Symbol)
	if p.Quantity.IsZero() {
		c.nonNegative("avgPrice", p.AvgPrice)
	} else {
		c.positive("avgPrice", p.AvgPrice)
	}
	c.time("datetime", p.Time, true)
	return c.result()
}

// MarshalJSON encodes p with its time in UTC.
func (p Position) MarshalJSON() ([]byte, error) {
	type plain Position
	q := plain(p)
	q.Time = q.Time.UTC()
	return json.Marshal(q)
}
