package events

import (
	"encoding/json"
	"time"
)

// Balance is the holding of one asset in one account on one exchange (CCXT
// balance entry).
//
// Rules (Validate): Account is optional printable text; Exchange and Asset
// are routing-key segments; Free and Locked are not negative; Total =
// Free + Locked; Time is set.
type Balance struct {
	Account  string    `json:"account,omitempty"`
	Exchange string    `json:"exchange"`
	Asset    string    `json:"asset"`  // currency code, e.g. "BTC"
	Free     Decimal   `json:"free"`   // available
	Locked   Decimal   `json:"locked"` // in open orders (CCXT "used")
	Total    Decimal   `json:"total"`  // Free + Locked
	Time     time.Time `json:"datetime"`
}

// EventType returns TypeBalance.
func (Balance) EventType() string { return TypeBalance }

// RoutingKey returns "balance.<exchange>.<asset>".
func (b Balance) RoutingKey() string { return key3(KindBalance, b.Exchange, b.Asset) }

// PartitionKey returns the asset.
func (b Balance) PartitionKey() string { return b.Asset }

// OccurredAt returns Time.
func (b Balance) OccurredAt() time.Time { return b.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (b Balance) Validate() error {
	c := checker{typ: TypeBalance}
	c.text("account", b.Account, false)
	c.segment("exchange", b.Exchange)
	c.segment("asset", b.Asset)
	c.nonNegative("free", b.Free)
	c.nonNegative("locked", b.Locked)
	if c.err == nil && b.Free.Add(b.Locked).Cmp(b.Total) != 0 {
		c.fail("total", b.Total.String(), "must equal free "+b.Free.String()+" + locked "+b.Locked.String())
	}
	c.time("datetime", b.Time, true)
	return c.result()
}

// MarshalJSON encodes b with its time in UTC.
func (b Balance) MarshalJSON() ([]byte, error) {
	type plain Balance
	p := plain(b)
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}
