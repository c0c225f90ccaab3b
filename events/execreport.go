package events

import (
	"encoding/json"
	"time"
)

// ExecutionReport is a venue's report on an order (FIX ExecutionReport,
// MsgType 8): acknowledgement, fill, cancel, replace, reject, ...
//
// Rules (Validate):
//   - Exchange and Symbol are routing-key segments; OrderID, ClOrdID and
//     ExecID are required ids (no white space, at most 256 bytes);
//     OrigClOrdID is required when ExecType is REPLACED; ExecType, OrdStatus
//     and Side are set; OrdType and TimeInForce are valid if set;
//     TransactTime is set.
//   - OrderQty is positive; Price is positive for LIMIT and STOP_LIMIT and
//     not negative otherwise; LastPx, LastQty, CumQty, LeavesQty and AvgPx
//     are not negative; CumQty <= OrderQty; AvgPx is positive when
//     CumQty > 0.
//   - LastQty > 0 only on a trade report (ExecType TRADE, TRADE_CORRECT,
//     TRADE_CANCEL); ExecType TRADE requires LastQty > 0 and LastPx > 0.
//   - OrderQty = CumQty + LeavesQty, except when OrdStatus is CANCELED,
//     REJECTED, EXPIRED, DONE_FOR_DAY or CALCULATED, where LeavesQty must be
//     0 (FIX tag 151). FILLED requires CumQty = OrderQty; PARTIALLY_FILLED
//     requires 0 < CumQty < OrderQty; REJECTED requires CumQty = 0.
type ExecutionReport struct {
	Exchange     string      `json:"exchange"`
	Symbol       string      `json:"symbol"`
	OrderID      string      `json:"orderId"`                // FIX 37: the venue's order id
	ClOrdID      string      `json:"clOrdId"`                // FIX 11
	OrigClOrdID  string      `json:"origClOrdId,omitempty"`  // FIX 41
	ExecID       string      `json:"execId"`                 // FIX 17: unique per report
	ExecType     ExecType    `json:"execType"`               // FIX 150
	OrdStatus    OrdStatus   `json:"ordStatus"`              // FIX 39
	Side         Side        `json:"side"`                   // FIX 54
	OrdType      OrdType     `json:"ordType,omitempty"`      // FIX 40
	TimeInForce  TimeInForce `json:"timeInForce,omitempty"`  // FIX 59
	OrderQty     Decimal     `json:"orderQty"`               // FIX 38
	Price        Decimal     `json:"price,omitzero"`         // FIX 44
	LastPx       Decimal     `json:"lastPx,omitzero"`        // FIX 31: price of this fill
	LastQty      Decimal     `json:"lastQty,omitzero"`       // FIX 32: quantity of this fill
	CumQty       Decimal     `json:"cumQty"`                 // FIX 14: filled so far
	LeavesQty    Decimal     `json:"leavesQty"`              // FIX 151: still open
	AvgPx        Decimal     `json:"avgPx"`                  // FIX 6: average fill price
	TransactTime time.Time   `json:"transactTime"`           // FIX 60
	RejectReason string      `json:"rejectReason,omitempty"` // FIX 58 Text / 103
	Account      string      `json:"account,omitempty"`      // FIX 1
}

// EventType returns TypeExecutionReport.
func (ExecutionReport) EventType() string { return TypeExecutionReport }

// RoutingKey returns "exec.<exchange>.<symbol>".
func (r ExecutionReport) RoutingKey() string { return key3(KindExec, r.Exchange, r.Symbol) }

// PartitionKey returns the symbol.
func (r ExecutionReport) PartitionKey() string { return r.Symbol }

// OccurredAt returns TransactTime.
func (r ExecutionReport) OccurredAt() time.Time { return r.TransactTime }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (r ExecutionReport) Validate() error {
	c := checker{typ: TypeExecutionReport}
	c.segment("exchange", r.Exchange)
	c.segment("symbol", r.Symbol)
	c.id("orderId", r.OrderID, true)
	c.id("clOrdId", r.ClOrdID, true)
	c.id("origClOrdId", r.OrigClOrdID, r.ExecType == ExecTypeReplaced)
	c.id("execId", r.ExecID, true)
	c.enum("execType", r.ExecType, true, r.ExecType == 0)
	c.enum("ordStatus", r.OrdStatus, true, r.OrdStatus == 0)
	c.enum("side", r.Side, true, r.Side == 0)
	c.enum("ordType", r.OrdType, false, r.OrdType == 0)
	c.enum("timeInForce", r.TimeInForce, false, r.TimeInForce == 0)
	c.positive("orderQty", r.OrderQty)
	if r.OrdType.NeedsPrice() {
		c.positive("price", r.Price)
	} else {
		c.optPositive("price", r.Price)
	}
	c.nonNegative("lastPx", r.LastPx)
	c.nonNegative("lastQty", r.LastQty)
	c.nonNegative("cumQty", r.CumQty)
	c.nonNegative("leavesQty", r.LeavesQty)
	c.nonNegative("avgPx", r.AvgPx)
	if c.err != nil {
		return c.result()
	}
	switch {
	case r.ExecType == ExecTypeTrade:
		c.positive("lastQty", r.LastQty)
		c.positive("lastPx", r.LastPx)
	case !r.ExecType.IsTrade():
		c.mustZero("lastQty", r.LastQty, "must be 0 on a ", r.ExecType.String(), " report (only trade reports carry a fill)")
	}
	if c.err == nil && r.CumQty.Cmp(r.OrderQty) > 0 {
		c.fail("cumQty", r.CumQty.String(), "above orderQty "+r.OrderQty.String())
	}
	if c.err == nil && r.CumQty.IsPositive() && !r.AvgPx.IsPositive() {
		c.fail("avgPx", r.AvgPx.String(), "must be positive when cumQty > 0")
	}
	if c.err == nil {
		if r.OrdStatus.closedUnfilled() {
			c.mustZero("leavesQty", r.LeavesQty, "must be 0 when ordStatus is ", r.OrdStatus.String())
		} else if sum := r.CumQty.Add(r.LeavesQty); sum.Cmp(r.OrderQty) != 0 {
			c.fail("leavesQty", r.LeavesQty.String(),
				"orderQty "+r.OrderQty.String()+" != cumQty "+r.CumQty.String()+" + leavesQty "+r.LeavesQty.String())
		}
	}
	if c.err == nil {
		switch r.OrdStatus {
		case OrdStatusFilled:
			if r.CumQty.Cmp(r.OrderQty) != 0 {
				c.fail("cumQty", r.CumQty.String(), "must equal orderQty "+r.OrderQty.String()+" when FILLED")
			}
		case OrdStatusPartiallyFilled:
			if !r.CumQty.IsPositive() || r.CumQty.Cmp(r.OrderQty) >= 0 {
				c.fail("cumQty", r.CumQty.String(), "must be between 0 and orderQty "+r.OrderQty.String()+" (exclusive) when PARTIALLY_FILLED")
			}
		case OrdStatusRejected:
			if !r.CumQty.IsZero() {
				c.fail("cumQty", r.CumQty.String(), "must be 0 when REJECTED")
			}
		}
	}
	c.time("transactTime", r.TransactTime, true)
	c.text("rejectReason", r.RejectReason, false)
	c.text("account", r.Account, false)
	return c.result()
}

// MarshalJSON encodes r with its time in UTC.
func (r ExecutionReport) MarshalJSON() ([]byte, error) {
	type plain ExecutionReport
	p := plain(r)
	p.TransactTime = p.TransactTime.UTC()
	return json.Marshal(p)
}
