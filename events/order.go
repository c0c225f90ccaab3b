package events

import (
	"encoding/json"
	"time"
)

// Order is a request to a venue, named after FIX: a new order
// (NewOrderSingle), a cancel (OrderCancelRequest) or a cancel/replace
// (OrderCancelReplaceRequest). The venue answers with ExecutionReports.
//
// Rules (Validate):
//   - Action is set; Exchange and Symbol are routing-key segments; ClOrdID
//     is required (no white space, at most 256 bytes); Account is optional
//     printable text; Time is set.
//   - NEW: OrigClOrdID is empty.
//   - CANCEL and REPLACE: OrigClOrdID is required and differs from ClOrdID.
//   - NEW and REPLACE: Side and OrdType are set; TimeInForce, if set, is
//     valid (unset means the venue's default, DAY in FIX); OrderQty is
//     positive; Price is positive for LIMIT and STOP_LIMIT and absent
//     otherwise; StopPx is positive for STOP and STOP_LIMIT and absent
//     otherwise.
//   - CANCEL: Side is set; OrdType, TimeInForce, OrderQty, Price and
//     StopPx are optional but valid (positive) if set.
type Order struct {
	Action      OrderAction `json:"action"`
	Exchange    string      `json:"exchange"` // the venue
	Symbol      string      `json:"symbol"`
	ClOrdID     string      `json:"clOrdId"`               // FIX 11: this request's client id
	OrigClOrdID string      `json:"origClOrdId,omitempty"` // FIX 41: the order to cancel/replace
	Side        Side        `json:"side"`
	OrdType     OrdType     `json:"ordType,omitempty"`
	TimeInForce TimeInForce `json:"timeInForce,omitempty"`
	OrderQty    Decimal     `json:"orderQty,omitzero"` // FIX 38, base asset
	Price       Decimal     `json:"price,omitzero"`    // FIX 44, limit price
	StopPx      Decimal     `json:"stopPx,omitzero"`   // FIX 99, trigger price
	Account     string      `json:"account,omitempty"` // FIX 1
	Time        time.Time   `json:"datetime"`          // FIX 60 TransactTime of the request
}

// EventType returns TypeOrder.
func (Order) EventType() string { return TypeOrder }

// RoutingKey returns "order.<exchange>.<symbol>".
func (o Order) RoutingKey() string { return key3(KindOrder, o.Exchange, o.Symbol) }

// PartitionKey returns the symbol.
func (o Order) PartitionKey() string { return o.Symbol }

// OccurredAt returns Time.
func (o Order) OccurredAt() time.Time { return o.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (o Order) Validate() error {
	c := checker{typ: TypeOrder}
	c.enum("action", o.Action, true, o.Action == 0)
	c.segment("exchange", o.Exchange)
	c.segment("symbol", o.Symbol)
	c.id("clOrdId", o.ClOrdID, true)
	c.id("origClOrdId", o.OrigClOrdID, false)
	if c.err == nil {
		switch o.Action {
		case OrderNew:
			if o.OrigClOrdID != "" {
				c.fail("origClOrdId", o.OrigClOrdID, "must be empty for a NEW order")
			}
		case OrderCancel, OrderReplace:
			if o.OrigClOrdID == "" {
				c.fail("origClOrdId", "", "required for "+o.Action.String())
			} else if o.OrigClOrdID == o.ClOrdID {
				c.fail("origClOrdId", o.OrigClOrdID, "must differ from clOrdId")
			}
		}
	}
	full := o.Action != OrderCancel
	c.enum("side", o.Side, true, o.Side == 0)
	c.enum("ordType", o.OrdType, full, o.OrdType == 0)
	c.enum("timeInForce", o.TimeInForce, false, o.TimeInForce == 0)
	if full {
		c.positive("orderQty", o.OrderQty)
	} else {
		c.optPositive("orderQty", o.OrderQty)
	}
	switch {
	case !full:
		// A cancel identifies the order; prices are informational.
		c.optPositive("price", o.Price)
		c.optPositive("stopPx", o.StopPx)
	default:
		if o.OrdType.NeedsPrice() {
			c.positive("price", o.Price)
		} else {
			c.mustZero("price", o.Price, "must be absent for a ", o.OrdType.String(), " order")
		}
		if o.OrdType.NeedsStopPx() {
			c.positive("stopPx", o.StopPx)
		} else {
			c.mustZero("stopPx", o.StopPx, "must be absent for a ", o.OrdType.String(), " order")
		}
	}
	c.text("account", o.Account, false)
	c.time("datetime", o.Time, true)
	return c.result()
}

// MarshalJSON encodes o with its time in UTC.
func (o Order) MarshalJSON() ([]byte, error) {
	type plain Order
	p := plain(o)
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}
