package events

import (
	"encoding/json"
	"time"
)

// Signal is a strategy's recommendation for one market.
//
// Rules (Validate): Strategy, Exchange and Symbol are routing-key
// segments; Action is set; Strength is in [0, 1]; Price (the reference
// price the strategy saw), if set, is positive; Reason is printable text of
// at most 256 bytes; Time is set.
type Signal struct {
	Strategy string       `json:"strategy"`
	Exchange string       `json:"exchange"`
	Symbol   string       `json:"symbol"`
	Action   SignalAction `json:"action"`
	Strength Decimal      `json:"strength"`         // conviction in [0, 1]
	Price    Decimal      `json:"price,omitzero"`   // reference price, optional
	Reason   string       `json:"reason,omitempty"` // human-readable, optional
	Time     time.Time    `json:"datetime"`
}

// EventType returns TypeSignal.
func (Signal) EventType() string { return TypeSignal }

// RoutingKey returns "signal.<exchange>.<symbol>.<strategy>".
func (s Signal) RoutingKey() string { return key4(KindSignal, s.Exchange, s.Symbol, s.Strategy) }

// PartitionKey returns the symbol.
func (s Signal) PartitionKey() string { return s.Symbol }

// OccurredAt returns Time.
func (s Signal) OccurredAt() time.Time { return s.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (s Signal) Validate() error {
	c := checker{typ: TypeSignal}
	c.segment("strategy", s.Strategy)
	c.segment("exchange", s.Exchange)
	c.segment("symbol", s.Symbol)
	c.enum("action", s.Action, true, s.Action == 0)
	if c.err == nil && (s.Strength.IsNegative() || s.Strength.Cmp(decimalOne) > 0) {
		c.fail("strength", s.Strength.String(), "outside [0, 1]")
	}
	c.optPositive("price", s.Price)
	c.text("reason", s.Reason, false)
	c.time("datetime", s.Time, true)
	return c.result()
}

// MarshalJSON encodes s with its time in UTC.
func (s Signal) MarshalJSON() ([]byte, error) {
	type plain Signal
	p := plain(s)
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}
