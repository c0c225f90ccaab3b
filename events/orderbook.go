package events

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// PriceLevel is one level of an order book. In JSON it is the CCXT pair
// ["price","amount"] (two decimal strings).
type PriceLevel struct {
	Price  Decimal
	Amount Decimal
}

// MarshalJSON writes ["price","amount"].
func (l PriceLevel) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 48)
	b = append(b, `["`...)
	b, err := l.Price.AppendText(b)
	if err != nil {
		return nil, err
	}
	b = append(b, `","`...)
	if b, err = l.Amount.AppendText(b); err != nil {
		return nil, err
	}
	return append(b, `"]`...), nil
}

// UnmarshalJSON reads ["price","amount"]: exactly two decimal strings.
func (l *PriceLevel) UnmarshalJSON(b []byte) error {
	if bytes.IndexByte(b, '\\') < 0 {
		// Fast path: no escapes, so the two strings can be sliced out.
		p, rest, ok := cutLevel(b)
		if ok {
			var price, amount Decimal
			if err := price.UnmarshalJSON(p); err != nil {
				return err
			}
			if err := amount.UnmarshalJSON(rest); err != nil {
				return err
			}
			l.Price, l.Amount = price, amount
			return nil
		}
	}
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return decimalErr("json", string(b), "a price level must be [\"price\",\"amount\"]")
	}
	if len(pair) != 2 {
		return decimalErr("json", string(b), "a price level must have exactly 2 elements, has "+strconv.Itoa(len(pair)))
	}
	var price, amount Decimal
	if err := price.UnmarshalJSON(pair[0]); err != nil {
		return err
	}
	if err := amount.UnmarshalJSON(pair[1]); err != nil {
		return err
	}
	l.Price, l.Amount = price, amount
	return nil
}

// cutLevel splits `[ "a" , "b" ]` (JSON white space allowed) into the two
// quoted strings. ok is false for any other shape; the caller then takes
// the general path (which also produces the error message).
func cutLevel(b []byte) (first, second []byte, ok bool) {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, nil, false
	}
	b = bytes.TrimSpace(b[1 : len(b)-1])
	if len(b) < 2 || b[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return nil, nil, false
	}
	first = b[:end+2]
	b = bytes.TrimSpace(b[end+2:])
	if len(b) < 1 || b[0] != ',' {
		return nil, nil, false
	}
	b = bytes.TrimSpace(b[1:])
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' || bytes.IndexByte(b[1:len(b)-1], '"') >= 0 {
		return nil, nil, false
	}
	return first, b, true
}

// OrderBook is an order book update (CCXT unified order book) for one
// market: a full snapshot or a delta on the previous state, in the
// exchange's sequence.
//
// Rules (Validate): Exchange and Symbol are routing-key segments; Kind is
// set; every level's price is positive; amounts are positive in a snapshot
// and not negative in a delta (0 removes the level); bids are in strictly
// descending and asks in strictly ascending price order; a snapshot whose
// best bid is at or above its best ask is crossed and rejected; Time is set.
// Sequence 0 means the exchange sends none.
type OrderBook struct {
	Exchange string       `json:"exchange"`
	Symbol   string       `json:"symbol"`
	Kind     BookKind     `json:"kind"`
	Sequence uint64       `json:"sequence,omitempty"` // the exchange's update id / nonce
	Bids     []PriceLevel `json:"bids"`               // best (highest) first
	Asks     []PriceLevel `json:"asks"`               // best (lowest) first
	Time     time.Time    `json:"datetime"`
}

// EventType returns TypeOrderBook.
func (OrderBook) EventType() string { return TypeOrderBook }

// RoutingKey returns "book.<exchange>.<symbol>".
func (b OrderBook) RoutingKey() string { return key3(KindBook, b.Exchange, b.Symbol) }

// PartitionKey returns the symbol.
func (b OrderBook) PartitionKey() string { return b.Symbol }

// OccurredAt returns Time.
func (b OrderBook) OccurredAt() time.Time { return b.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (b OrderBook) Validate() error { return b.validate() }

// validate is Validate without copying the event (for the codec).
func (b *OrderBook) validate() error { return b.check(proof{}) }

// check is validate, skipping the rules that p says the fast decoder has
// verified: p.levels says that every level is already known to keep the
// per-level rules (prices positive and in order, amounts positive, or
// not negative in a delta), as the fast decoder verifies while it reads
// them. The other rules are checked, so the result is validate's.
func (b *OrderBook) check(p proof) error {
	c := checker{typ: TypeOrderBook}
	if !p.segments {
		c.segment("exchange", b.Exchange)
		c.segment("symbol", b.Symbol)
	}
	c.enum("kind", b.Kind, true, b.Kind == 0)
	if !p.levels {
		b.levels(&c, "bids", b.Bids, -1)
		b.levels(&c, "asks", b.Asks, +1)
	}
	if c.err == nil && b.Kind == BookSnapshot && len(b.Bids) > 0 && len(b.Asks) > 0 &&
		b.Bids[0].Price.Cmp(b.Asks[0].Price) >= 0 {
		c.fail("bids[0].price", b.Bids[0].Price.String(), "crossed: best bid at or above best ask "+b.Asks[0].Price.String())
	}
	c.time("datetime", b.Time, true)
	return c.result()
}

// validateAppend validates b and appends its encoding to dst (ok false
// when the hand-written encoder declines; then the caller encodes with
// encoding/json). The per-level rules are checked by appendLevels as it
// writes the levels, the others before; a book whose levels it does not
// vouch for, or that fails the other rules, is validated in full, so that
// the error is exactly validate's (a level's error comes before a
// crossed book's).
func (b *OrderBook) validateAppend(dst []byte) (out []byte, ok bool, err error) {
	if err := b.check(proof{levels: true}); err != nil {
		return dst, false, b.validate()
	}
	out, ok, levelsValid := b.appendJSONLevels(dst)
	if !levelsValid {
		if err := b.validate(); err != nil {
			return dst, false, err
		}
	}
	return out, ok, nil
}

// levels checks one side; order is -1 for descending, +1 for ascending.
func (b *OrderBook) levels(c *checker, side string, lv []PriceLevel, order int) {
	if c.err != nil {
		return
	}
	for i := keepRules(lv, order, b.Kind == BookDelta); i < len(lv); i++ {
		if c.err != nil {
			return
		}
		l := &lv[i]
		if !l.Price.IsPositive() {
			c.fail(side+"["+strconv.Itoa(i)+"].price", l.Price.String(), "must be positive")
			return
		}
		switch {
		case l.Amount.IsNegative():
			c.fail(side+"["+strconv.Itoa(i)+"].amount", l.Amount.String(), "must not be negative")
			return
		case l.Amount.IsZero() && b.Kind != BookDelta:
			c.fail(side+"["+strconv.Itoa(i)+"].amount", "0", "must be positive in a snapshot (0 removes a level only in a delta)")
			return
		}
		if i > 0 && l.Price.Cmp(lv[i-1].Price) != order {
			want := "strictly ascending"
			if order < 0 {
				want = "strictly descending"
			}
			c.fail(side+"["+strconv.Itoa(i)+"].price", l.Price.String(), side+" must be in "+want+" price order")
			return
		}
	}
}

// keepRules returns the number of leading levels of lv that are known to
// keep the per-level rules from their 64-bit coefficients alone, compared
// with integer arithmetic: price positive, amount positive (or zero if
// zeroOK), each price compared with the previous one giving order. The
// first level it cannot vouch for — one that breaks a rule, or has a
// larger coefficient — and the rest are for levels to check one by one.
func keepRules(lv []PriceLevel, order int, zeroOK bool) int {
	var prev uint64
	var prevPlaces uint8
	for i := range lv {
		pr, am := &lv[i].Price, &lv[i].Amount
		p, pp, a := pr.lo, pr.places, am.lo
		if pr.hi|am.hi != 0 ||
			pr.neg || p == 0 || // price not positive
			(a == 0 && !zeroOK) || am.neg || // amount not positive / negative
			(i > 0 && cmpScaled(p, pp, prev, prevPlaces) != order) {
			return i
		}
		prev, prevPlaces = p, pp
	}
	return len(lv)
}

// MarshalJSON encodes b with its time in UTC.
func (b OrderBook) MarshalJSON() ([]byte, error) {
	if out, ok := b.appendJSON(make([]byte, 0, 128+64*(len(b.Bids)+len(b.Asks)))); ok {
		return out, nil // the same bytes as below, see fastjson.go
	}
	type plain OrderBook
	p := plain(b)
	p.Time = p.Time.UTC()
	if p.Bids == nil {
		p.Bids = []PriceLevel{}
	}
	if p.Asks == nil {
		p.Asks = []PriceLevel{}
	}
	return json.Marshal(p)
}
