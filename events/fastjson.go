package events

import (
	"strconv"
	"time"
)

// Hand-written JSON for the hot market-data types (Trade, Ticker,
// OrderBook). They are an optimisation only, never a second definition of
// the format:
//
//   - The encoders write exactly the bytes encoding/json writes for the
//     type (same field order, omitempty/omitzero, HTML-safe escaping). Any
//     input they are not sure about (a string needing escapes, an invalid
//     enum, a decimal error, a year outside 0..9999) makes them report
//     !ok, and the caller uses encoding/json.
//   - The decoders accept only the shape those encoders write, with
//     optional JSON white space: an object of known keys (exact case) whose
//     values are strings of printable ASCII without escapes (and, for an
//     order book, a plain unsigned integer and arrays of
//     ["price","amount"] pairs). Anything else — an unknown or differently
//     cased key, an escape, null, a number where a string belongs, a
//     field that does not parse — makes them report !ok, and Unmarshal
//     decodes the document from scratch with encoding/json, so results and
//     errors are always those of encoding/json.
//
// Fields are decoded with the same methods encoding/json calls
// (Decimal.UnmarshalJSON, the enums' UnmarshalText, time.Time.UnmarshalJSON),
// so an accepted document yields the same value.

// fastDecoder is implemented by pointers to the types with a fast path.
type fastDecoder interface {
	decodeFast(data []byte) bool
}

// htmlSafe reports whether c can be written inside a JSON string as is by
// encoding/json (which escapes '<', '>' and '&' by default).
func htmlSafe(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// appendStr appends s as a JSON string; ok is false if s needs escaping.
func appendStr(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if !htmlSafe(s[i]) {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendField appends ,"name": (or {"name": for the first field).
func appendField(b []byte, name string) []byte {
	if len(b) == 0 || b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendDec(b []byte, d Decimal) ([]byte, bool) {
	b = append(b, '"')
	b, err := d.AppendText(b)
	if err != nil {
		return b, false
	}
	return append(b, '"'), true
}

// appendTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds, trailing zeros trimmed).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// scanner walks one JSON document for the fast decoders.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat consumes c (after white space).
func (s *scanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str consumes a string of printable ASCII without escapes and returns it
// with its quotes (the raw JSON literal).
func (s *scanner) str() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i
	for j := s.i + 1; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return s.b[start:s.i], true
		}
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, false
		}
	}
	return nil, false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// object calls field for each key of an object; field returns false to
// abandon the fast path. Keys are raw strings without quotes.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return s.end()
	}
	for {
		k, ok := s.str()
		if !ok || !s.eat(':') || !field(k[1:len(k)-1]) {
			return false
		}
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return s.end()
		}
		return false
	}
}

func (s *scanner) decimal(d *Decimal) bool {
	raw, ok := s.str()
	return ok && d.UnmarshalJSON(raw) == nil
}

func (s *scanner) text(v *string) bool {
	raw, ok := s.str()
	if ok {
		*v = string(raw[1 : len(raw)-1])
	}
	return ok
}

func (s *scanner) time(t *time.Time) bool {
	raw, ok := s.str()
	return ok && t.UnmarshalJSON(raw) == nil
}

// enum decodes a string with the enum's UnmarshalText.
func (s *scanner) enum(u interface{ UnmarshalText([]byte) error }) bool {
	raw, ok := s.str()
	return ok && u.UnmarshalText(raw[1:len(raw)-1]) == nil
}

// uint decodes a plain unsigned integer (digits only, no leading zero).
func (s *scanner) uint(v *uint64) bool {
	s.ws()
	j := s.i
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	digits := s.b[s.i:j]
	if len(digits) == 0 || len(digits) > 19 || (len(digits) > 1 && digits[0] == '0') {
		return false
	}
	if j < len(s.b) {
		switch s.b[j] {
		case '.', 'e', 'E':
			return false
		}
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return false
	}
	*v = n
	s.i = j
	return true
}

// levels decodes an array of ["price","amount"] pairs. An empty array
// gives an empty, non-nil slice, as encoding/json does.
func (s *scanner) levels(lv *[]PriceLevel) bool {
	if !s.eat('[') {
		return false
	}
	out := make([]PriceLevel, 0, 8)
	if s.eat(']') {
		*lv = out
		return true
	}
	for {
		var l PriceLevel
		if !s.eat('[') || !s.decimal(&l.Price) || !s.eat(',') || !s.decimal(&l.Amount) || !s.eat(']') {
			return false
		}
		out = append(out, l)
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			*lv = out
			return true
		}
		return false
	}
}

// --- Trade ---

func (t Trade) appendJSON(b []byte) ([]byte, bool) {
	if !t.Side.Valid() || (t.TakerOrMaker != 0 && !t.TakerOrMaker.Valid()) {
		return b, false
	}
	ok := true
	b = append(b, '{')
	b = appendField(b, "exchange")
	if b, ok = appendStr(b, t.Exchange); !ok {
		return b, false
	}
	b = appendField(b, "symbol")
	if b, ok = appendStr(b, t.Symbol); !ok {
		return b, false
	}
	if t.TradeID != "" {
		b = appendField(b, "id")
		if b, ok = appendStr(b, t.TradeID); !ok {
			return b, false
		}
	}
	b = appendField(b, "price")
	if b, ok = appendDec(b, t.Price); !ok {
		return b, false
	}
	b = appendField(b, "amount")
	if b, ok = appendDec(b, t.Amount); !ok {
		return b, false
	}
	b = appendField(b, "side")
	b, _ = appendStr(b, t.Side.String())
	if t.TakerOrMaker != 0 {
		b = appendField(b, "takerOrMaker")
		b, _ = appendStr(b, t.TakerOrMaker.String())
	}
	b = appendField(b, "datetime")
	if b, ok = appendTime(b, t.Time.UTC()); !ok {
		return b, false
	}
	return append(b, '}'), true
}

func (t *Trade) decodeFast(data []byte) bool {
	s := scanner{b: data}
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "exchange":
			return s.text(&t.Exchange)
		case "symbol":
			return s.text(&t.Symbol)
		case "id":
			return s.text(&t.TradeID)
		case "price":
			return s.decimal(&t.Price)
		case "amount":
			return s.decimal(&t.Amount)
		case "side":
			return s.enum(&t.Side)
		case "takerOrMaker":
			return s.enum(&t.TakerOrMaker)
		case "datetime":
			return s.time(&t.Time)
		}
		return false
	})
}

// --- Ticker ---

func (t Ticker) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	b = append(b, '{')
	b = appendField(b, "exchange")
	if b, ok = appendStr(b, t.Exchange); !ok {
		return b, false
	}
	b = appendField(b, "symbol")
	if b, ok = appendStr(b, t.Symbol); !ok {
		return b, false
	}
	for _, f := range [...]struct {
		name string
		d    *Decimal
	}{
		{"bid", &t.Bid}, {"bidVolume", &t.BidSize}, {"ask", &t.Ask}, {"askVolume", &t.AskSize},
		{"last", &t.Last}, {"high", &t.High}, {"low", &t.Low}, {"baseVolume", &t.Volume},
		{"quoteVolume", &t.QuoteVolume},
	} {
		if f.d.IsZero() {
			continue // omitzero
		}
		b = appendField(b, f.name)
		if b, ok = appendDec(b, *f.d); !ok {
			return b, false
		}
	}
	b = appendField(b, "datetime")
	if b, ok = appendTime(b, t.Time.UTC()); !ok {
		return b, false
	}
	return append(b, '}'), true
}

func (t *Ticker) decodeFast(data []byte) bool {
	s := scanner{b: data}
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "exchange":
			return s.text(&t.Exchange)
		case "symbol":
			return s.text(&t.Symbol)
		case "bid":
			return s.decimal(&t.Bid)
		case "bidVolume":
			return s.decimal(&t.BidSize)
		case "ask":
			return s.decimal(&t.Ask)
		case "askVolume":
			return s.decimal(&t.AskSize)
		case "last":
			return s.decimal(&t.Last)
		case "high":
			return s.decimal(&t.High)
		case "low":
			return s.decimal(&t.Low)
		case "baseVolume":
			return s.decimal(&t.Volume)
		case "quoteVolume":
			return s.decimal(&t.QuoteVolume)
		case "datetime":
			return s.time(&t.Time)
		}
		return false
	})
}

// --- OrderBook ---

func (ob OrderBook) appendJSON(b []byte) ([]byte, bool) {
	if !ob.Kind.Valid() {
		return b, false
	}
	ok := true
	b = append(b, '{')
	b = appendField(b, "exchange")
	if b, ok = appendStr(b, ob.Exchange); !ok {
		return b, false
	}
	b = appendField(b, "symbol")
	if b, ok = appendStr(b, ob.Symbol); !ok {
		return b, false
	}
	b = appendField(b, "kind")
	b, _ = appendStr(b, ob.Kind.String())
	if ob.Sequence != 0 {
		b = appendField(b, "sequence")
		b = strconv.AppendUint(b, ob.Sequence, 10)
	}
	for _, side := range [...]struct {
		name string
		lv   []PriceLevel
	}{{"bids", ob.Bids}, {"asks", ob.Asks}} {
		b = appendField(b, side.name)
		b = append(b, '[')
		for i, l := range side.lv {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			if b, ok = appendDec(b, l.Price); !ok {
				return b, false
			}
			b = append(b, ',')
			if b, ok = appendDec(b, l.Amount); !ok {
				return b, false
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	b = appendField(b, "datetime")
	if b, ok = appendTime(b, ob.Time.UTC()); !ok {
		return b, false
	}
	return append(b, '}'), true
}

func (ob *OrderBook) decodeFast(data []byte) bool {
	s := scanner{b: data}
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "exchange":
			return s.text(&ob.Exchange)
		case "symbol":
			return s.text(&ob.Symbol)
		case "kind":
			return s.enum(&ob.Kind)
		case "sequence":
			return s.uint(&ob.Sequence)
		case "bids":
			return s.levels(&ob.Bids)
		case "asks":
			return s.levels(&ob.Asks)
		case "datetime":
			return s.time(&ob.Time)
		}
		return false
	})
}
