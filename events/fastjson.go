package events

import (
	"bytes"
	"time"

	"github.com/quagmt/udecimal"
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
// Decimals, enums and times are written and read by the same rules as
// their MarshalText/UnmarshalJSON methods (the fuzzers in fastjson_test.go
// hold the hand-written formatters to the library ones), so an accepted
// document yields the same value.
//
// Allocations: an encoder appends to the caller's buffer and allocates
// nothing else. A decoder takes exchange and symbol from the intern table
// (intern.go), so in a steady stream they cost nothing; it allocates the
// other strings (a trade id) and, for an order book, one array that holds
// the bids and the asks (each side is a full slice expression of it, so
// appending to one side never writes into the other). No decoded string
// or slice refers to the input bytes.

// --- encoding ---

// jsonSafe[c] reports whether c can be written inside a JSON string as is
// by encoding/json: printable ASCII except '"', '\\' and the HTML-unsafe
// '<', '>', '&' (which encoding/json escapes by default).
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendStr appends s as a JSON string; ok is false if s needs escaping.
func appendStr(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if !jsonSafe[s[i]] {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// digitPairs holds "00".."99": the two digits of n at [2n], [2n+1].
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendUint appends the decimal digits of v.
func appendUint(b []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		buf[i], buf[i+1] = digitPairs[r], digitPairs[r+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		buf[i], buf[i+1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		i--
		buf[i] = byte('0' + v)
	}
	return append(b, buf[i:]...)
}

// appendDec appends d as a JSON string in its canonical text form (as
// Decimal.MarshalJSON). Coefficients of up to 64 bits are formatted here;
// larger ones by the library.
func appendDec(b []byte, d Decimal) ([]byte, bool) {
	b = append(b, '"')
	neg, hi, lo, prec, ok := d.d.ToHiLo()
	if !ok || hi != 0 || prec > MaxDecimalPlaces {
		var err error
		if b, err = d.AppendText(b); err != nil {
			return b, false
		}
		return append(b, '"'), true
	}
	if neg {
		b = append(b, '-')
	}
	// All the digits of the coefficient, then the point put in place.
	var buf [24]byte
	i := len(buf)
	for v := lo; ; {
		if v < 10 {
			i--
			buf[i] = byte('0' + v)
			break
		}
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		buf[i], buf[i+1] = digitPairs[r], digitPairs[r+1]
		if v = q; v == 0 {
			break // the pair was 10..99: no leading zero
		}
	}
	digits := buf[i:]
	if prec == 0 {
		b = append(b, digits...)
		return append(b, '"'), true
	}
	end := len(digits)
	for end > 0 && digits[end-1] == '0' && len(digits)-end < int(prec) {
		end-- // canonical form: no trailing fractional zeros
	}
	intLen := len(digits) - int(prec)
	switch {
	case intLen <= 0: // 0.000ddd
		b = append(b, '0')
		if end > 0 {
			b = append(b, '.')
			b = append(b, "0000000000000000000"[:-intLen]...)
			b = append(b, digits[:end]...)
		}
	case end > intLen:
		b = append(b, digits[:intLen]...)
		b = append(b, '.')
		b = append(b, digits[intLen:end]...)
	default:
		b = append(b, digits[:intLen]...)
	}
	return append(b, '"'), true
}

// append2 appends v (0..99) as two digits.
func append2(b []byte, v int) []byte {
	return append(b, digitPairs[v*2], digitPairs[v*2+1])
}

// appendTime appends t in UTC as a JSON string, as time.Time.MarshalJSON
// does (RFC 3339 with nanoseconds, trailing zeros trimmed); ok is false
// for a year outside 0..9999 (which MarshalJSON rejects).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return b, false
	}
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = append2(b, year/100)
	b = append2(b, year%100)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, minute)
	b = append(b, ':')
	b = append2(b, sec)
	if ns := t.Nanosecond(); ns != 0 {
		n := 9
		for ns%10 == 0 {
			ns /= 10
			n--
		}
		var buf [9]byte
		for i := n - 1; i >= 0; i-- {
			buf[i] = byte('0' + ns%10)
			ns /= 10
		}
		b = append(b, '.')
		b = append(b, buf[:n]...)
	}
	return append(b, 'Z', '"'), true
}

// appendName appends the name of a valid enum value as a JSON string
// (enum names need no escaping).
func appendName(b []byte, name string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"')
}

// --- decoding ---

// scanner walks one JSON document for the fast decoders.
type scanner struct {
	b    []byte
	i    int
	keys int // keys read in the current object
	hint int // index of the key expected next (see nextKey)

	// pool backs every []PriceLevel of the document (see levels).
	pool []PriceLevel
}

// span is where a string value lies in the document (without quotes).
type span struct{ lo, hi int }

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

// strPlain[c] reports whether c may appear as is in a string the fast
// decoders accept: printable ASCII other than '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str consumes a string of printable ASCII without escapes and returns its
// position without the quotes.
func (s *scanner) str() (span, bool) {
	s.ws()
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return span{}, false
	}
	j := i + 1
	for j < len(b) && strPlain[b[j]] {
		j++
	}
	if j >= len(b) || b[j] != '"' {
		return span{}, false
	}
	s.i = j + 1
	return span{i + 1, j}, true
}

// raw returns the bytes of sp.
func (s *scanner) raw(sp span) []byte { return s.b[sp.lo:sp.hi] }

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// open consumes the '{' of the document's object.
func (s *scanner) open() bool {
	s.keys = 0
	return s.eat('{')
}

// nextKey reads the next `"key":` of the object opened by open, after the
// previous value, and returns its index in keys, the type's keys written
// as `"name":` in the order its encoder writes them. The key after the
// previous one is tried first as a literal, so a document in the encoder's
// order is read without scanning keys. done is true at the closing '}',
// which must end the document; ok is false for anything else, including a
// key not in keys.
func (s *scanner) nextKey(keys []string) (idx int, done, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, false, false
	}
	switch c := s.b[s.i]; {
	case c == '}':
		s.i++
		return 0, true, s.end()
	case s.keys > 0 && c != ',':
		return 0, false, false
	case s.keys > 0:
		s.i++
		s.ws()
	}
	s.keys++
	if h := s.hint; h < len(keys) {
		if k := keys[h]; len(s.b)-s.i >= len(k) && string(s.b[s.i:s.i+len(k)]) == k {
			s.i += len(k)
			s.hint = h + 1
			return h, false, true
		}
	}
	sp, ok := s.str()
	if !ok || !s.eat(':') {
		return 0, false, false
	}
	raw := s.raw(sp)
	for i, k := range keys {
		if string(raw) == k[1:len(k)-2] {
			s.hint = i + 1
			return i, false, true
		}
	}
	return 0, false, false
}

// text reads a string value; the caller turns its span into a string
// once the document is accepted (so a document that falls back to
// encoding/json costs no string).
func (s *scanner) text(sp *span) bool {
	v, ok := s.str()
	*sp = v
	return ok
}

// decimal reads a decimal string as Decimal.UnmarshalJSON does. The
// common short form that parseSmallDecimal takes is parsed in the same
// pass that finds the closing quote, to the same value; anything else goes
// through Decimal.UnmarshalJSON.
func (s *scanner) decimal(d *Decimal) bool {
	s.ws()
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return false
	}
	i++
	start, dot := i, -1
	var coef uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c >= '0' && c <= '9' {
			coef = coef*10 + uint64(c-'0')
			continue
		}
		if c != '.' || dot >= 0 {
			break
		}
		dot = i
	}
	n := i - start
	digits, places := n, 0
	if dot >= 0 {
		digits, places = n-1, i-dot-1
	}
	if i < len(b) && b[i] == '"' && digits > 0 && digits <= 19 &&
		dot != start && (dot < 0 || places > 0) && // no ".5", no "5."
		(b[start] != '0' || n == 1 || b[start+1] == '.') { // no leading zero
		v, err := udecimal.NewFromUint64(coef, uint8(places))
		if err == nil {
			d.d = v
			s.i = i + 1
			return true
		}
	}
	sp, ok := s.str()
	return ok && d.UnmarshalJSON(s.b[sp.lo-1:sp.hi+1]) == nil
}

// time reads an RFC 3339 string as time.Time.UnmarshalJSON does. The form
// the encoders write (UTC, "Z", 0 to 9 fractional digits) is parsed here,
// with the same range checks and the same time.Date call as the library's
// parser; anything else goes through time.Time.UnmarshalJSON.
func (s *scanner) time(t *time.Time) bool {
	sp, ok := s.str()
	if !ok {
		return false
	}
	if v, ok := parseUTCTime(s.raw(sp)); ok {
		*t = v
		return true
	}
	return t.UnmarshalJSON(s.b[sp.lo-1:sp.hi+1]) == nil
}

// parseUTCTime parses "2006-01-02T15:04:05[.fffffffff]Z"; ok is false for
// anything else, including a value time.Parse would reject.
func parseUTCTime[S string | []byte](b S) (time.Time, bool) {
	const short = len("2006-01-02T15:04:05Z")
	if len(b) < short || b[len(b)-1] != 'Z' ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	ok := true
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		ok = ok && b[i] >= '0' && b[i] <= '9'
	}
	num2 := func(i int) int { return int(b[i]-'0')*10 + int(b[i+1]-'0') }
	year, month, day := num2(0)*100+num2(2), num2(5), num2(8)
	hour, minute, sec := num2(11), num2(14), num2(17)
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		for i := 1; i < len(frac); i++ {
			c := frac[i]
			ok = ok && c >= '0' && c <= '9'
			nsec = nsec*10 + int(c-'0')
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	if !ok || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn returns the number of days in month (1..12) of year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// enum reads an enum name as the enums' UnmarshalText does.
func (s *scanner) enum(tab *enumTable) (uint8, bool) {
	sp, ok := s.str()
	if !ok {
		return 0, false
	}
	v, err := tab.parseBytes(s.raw(sp))
	return v, err == nil
}

// uint decodes a plain unsigned integer (digits only, no leading zero,
// at most 19 digits, so no overflow).
func (s *scanner) uint(v *uint64) bool {
	s.ws()
	j, n := s.i, uint64(0)
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		n = n*10 + uint64(s.b[j]-'0')
		j++
	}
	digits := j - s.i
	if digits == 0 || digits > 19 || (digits > 1 && s.b[s.i] == '0') {
		return false
	}
	if j < len(s.b) {
		switch s.b[j] {
		case '.', 'e', 'E':
			return false
		}
	}
	*v = n
	s.i = j
	return true
}

// levels decodes an array of ["price","amount"] pairs. An empty array
// gives an empty, non-nil slice, as encoding/json does. Every side of the
// document is decoded into s.pool, sized on first use to the number of '['
// left in the document (at least one per level; with the asks' own '[' the
// 10-level book still fits the same size class), so the bids and asks
// share one allocation; the returned slice's capacity ends at its length,
// so appending to one side never writes into the other.
func (s *scanner) levels(lv *[]PriceLevel) bool {
	if !s.eat('[') {
		return false
	}
	if s.pool == nil {
		s.pool = make([]PriceLevel, 0, bytes.Count(s.b[s.i:], []byte{'['}))
	}
	start := len(s.pool)
	if !s.eat(']') {
		for {
			n := len(s.pool)
			s.pool = append(s.pool, PriceLevel{}) // within capacity: every level has its own '['
			l := &s.pool[n]
			if !s.eat('[') || !s.decimal(&l.Price) || !s.eat(',') || !s.decimal(&l.Amount) || !s.eat(']') {
				return false
			}
			if s.eat(',') {
				continue
			}
			if s.eat(']') {
				break
			}
			return false
		}
	}
	*lv = s.pool[start:len(s.pool):len(s.pool)]
	return true
}

// --- Trade ---

func (t *Trade) appendJSON(b []byte) ([]byte, bool) {
	if !t.Side.Valid() || (t.TakerOrMaker != 0 && !t.TakerOrMaker.Valid()) {
		return b, false
	}
	ok := true
	b = append(b, `{"exchange":`...)
	if b, ok = appendStr(b, t.Exchange); !ok {
		return b, false
	}
	b = append(b, `,"symbol":`...)
	if b, ok = appendStr(b, t.Symbol); !ok {
		return b, false
	}
	if t.TradeID != "" {
		b = append(b, `,"id":`...)
		if b, ok = appendStr(b, t.TradeID); !ok {
			return b, false
		}
	}
	b = append(b, `,"price":`...)
	if b, ok = appendDec(b, t.Price); !ok {
		return b, false
	}
	b = append(b, `,"amount":`...)
	if b, ok = appendDec(b, t.Amount); !ok {
		return b, false
	}
	b = append(b, `,"side":`...)
	b = appendName(b, t.Side.String())
	if t.TakerOrMaker != 0 {
		b = append(b, `,"takerOrMaker":`...)
		b = appendName(b, t.TakerOrMaker.String())
	}
	b = append(b, `,"datetime":`...)
	if b, ok = appendTime(b, t.Time); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// Trade's JSON keys, in the order its encoder writes them (see nextKey).
const (
	tradeExchange = iota
	tradeSymbol
	tradeID
	tradePrice
	tradeAmount
	tradeSide
	tradeTakerOrMaker
	tradeDatetime
)

var tradeKeys = [...]string{
	tradeExchange:     `"exchange":`,
	tradeSymbol:       `"symbol":`,
	tradeID:           `"id":`,
	tradePrice:        `"price":`,
	tradeAmount:       `"amount":`,
	tradeSide:         `"side":`,
	tradeTakerOrMaker: `"takerOrMaker":`,
	tradeDatetime:     `"datetime":`,
}

func (t *Trade) decodeFast(data []byte) bool {
	s := scanner{b: data}
	if !s.open() {
		return false
	}
	var ex, sym, id span
	for {
		k, done, ok := s.nextKey(tradeKeys[:])
		if !ok {
			return false
		}
		if done {
			break
		}
		switch k {
		case tradeExchange:
			ok = s.text(&ex)
		case tradeSymbol:
			ok = s.text(&sym)
		case tradeID:
			ok = s.text(&id)
		case tradePrice:
			ok = s.decimal(&t.Price)
		case tradeAmount:
			ok = s.decimal(&t.Amount)
		case tradeSide:
			var v uint8
			v, ok = s.enum(&sideTable)
			t.Side = Side(v)
		case tradeTakerOrMaker:
			var v uint8
			v, ok = s.enum(&takerOrMakerTable)
			t.TakerOrMaker = TakerOrMaker(v)
		case tradeDatetime:
			ok = s.time(&t.Time)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	t.Exchange, t.Symbol, t.TradeID = intern(s.raw(ex)), intern(s.raw(sym)), string(s.raw(id))
	return true
}

// --- Ticker ---

// appendOptDec appends `,"key":"d"` unless d is zero (omitzero).
func appendOptDec(b []byte, key string, d Decimal) ([]byte, bool) {
	if d.IsZero() {
		return b, true
	}
	b = append(b, key...)
	return appendDec(b, d)
}

func (t *Ticker) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	b = append(b, `{"exchange":`...)
	if b, ok = appendStr(b, t.Exchange); !ok {
		return b, false
	}
	b = append(b, `,"symbol":`...)
	if b, ok = appendStr(b, t.Symbol); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"bid":`, t.Bid); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"bidVolume":`, t.BidSize); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"ask":`, t.Ask); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"askVolume":`, t.AskSize); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"last":`, t.Last); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"high":`, t.High); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"low":`, t.Low); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"baseVolume":`, t.Volume); !ok {
		return b, false
	}
	if b, ok = appendOptDec(b, `,"quoteVolume":`, t.QuoteVolume); !ok {
		return b, false
	}
	b = append(b, `,"datetime":`...)
	if b, ok = appendTime(b, t.Time); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// Ticker's JSON keys, in the order its encoder writes them (see nextKey).
const (
	tickerExchange = iota
	tickerSymbol
	tickerBid
	tickerBidVolume
	tickerAsk
	tickerAskVolume
	tickerLast
	tickerHigh
	tickerLow
	tickerBaseVolume
	tickerQuoteVolume
	tickerDatetime
)

var tickerKeys = [...]string{
	tickerExchange:    `"exchange":`,
	tickerSymbol:      `"symbol":`,
	tickerBid:         `"bid":`,
	tickerBidVolume:   `"bidVolume":`,
	tickerAsk:         `"ask":`,
	tickerAskVolume:   `"askVolume":`,
	tickerLast:        `"last":`,
	tickerHigh:        `"high":`,
	tickerLow:         `"low":`,
	tickerBaseVolume:  `"baseVolume":`,
	tickerQuoteVolume: `"quoteVolume":`,
	tickerDatetime:    `"datetime":`,
}

func (t *Ticker) decodeFast(data []byte) bool {
	s := scanner{b: data}
	if !s.open() {
		return false
	}
	var ex, sym span
	for {
		k, done, ok := s.nextKey(tickerKeys[:])
		if !ok {
			return false
		}
		if done {
			break
		}
		switch k {
		case tickerExchange:
			ok = s.text(&ex)
		case tickerSymbol:
			ok = s.text(&sym)
		case tickerBid:
			ok = s.decimal(&t.Bid)
		case tickerBidVolume:
			ok = s.decimal(&t.BidSize)
		case tickerAsk:
			ok = s.decimal(&t.Ask)
		case tickerAskVolume:
			ok = s.decimal(&t.AskSize)
		case tickerLast:
			ok = s.decimal(&t.Last)
		case tickerHigh:
			ok = s.decimal(&t.High)
		case tickerLow:
			ok = s.decimal(&t.Low)
		case tickerBaseVolume:
			ok = s.decimal(&t.Volume)
		case tickerQuoteVolume:
			ok = s.decimal(&t.QuoteVolume)
		case tickerDatetime:
			ok = s.time(&t.Time)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	t.Exchange, t.Symbol = intern(s.raw(ex)), intern(s.raw(sym))
	return true
}

// --- OrderBook ---

func appendLevels(b []byte, lv []PriceLevel) ([]byte, bool) {
	ok := true
	b = append(b, '[')
	for i := range lv {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		if b, ok = appendDec(b, lv[i].Price); !ok {
			return b, false
		}
		b = append(b, ',')
		if b, ok = appendDec(b, lv[i].Amount); !ok {
			return b, false
		}
		b = append(b, ']')
	}
	return append(b, ']'), true
}

func (ob *OrderBook) appendJSON(b []byte) ([]byte, bool) {
	if !ob.Kind.Valid() {
		return b, false
	}
	ok := true
	b = append(b, `{"exchange":`...)
	if b, ok = appendStr(b, ob.Exchange); !ok {
		return b, false
	}
	b = append(b, `,"symbol":`...)
	if b, ok = appendStr(b, ob.Symbol); !ok {
		return b, false
	}
	b = append(b, `,"kind":`...)
	b = appendName(b, ob.Kind.String())
	if ob.Sequence != 0 {
		b = append(b, `,"sequence":`...)
		b = appendUint(b, ob.Sequence)
	}
	b = append(b, `,"bids":`...)
	if b, ok = appendLevels(b, ob.Bids); !ok {
		return b, false
	}
	b = append(b, `,"asks":`...)
	if b, ok = appendLevels(b, ob.Asks); !ok {
		return b, false
	}
	b = append(b, `,"datetime":`...)
	if b, ok = appendTime(b, ob.Time); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// OrderBook's JSON keys, in the order its encoder writes them (see nextKey).
const (
	bookExchange = iota
	bookSymbol
	bookKind
	bookSequence
	bookBids
	bookAsks
	bookDatetime
)

var bookKeys = [...]string{
	bookExchange: `"exchange":`,
	bookSymbol:   `"symbol":`,
	bookKind:     `"kind":`,
	bookSequence: `"sequence":`,
	bookBids:     `"bids":`,
	bookAsks:     `"asks":`,
	bookDatetime: `"datetime":`,
}

func (ob *OrderBook) decodeFast(data []byte) bool {
	s := scanner{b: data}
	if !s.open() {
		return false
	}
	var ex, sym span
	for {
		k, done, ok := s.nextKey(bookKeys[:])
		if !ok {
			return false
		}
		if done {
			break
		}
		switch k {
		case bookExchange:
			ok = s.text(&ex)
		case bookSymbol:
			ok = s.text(&sym)
		case bookKind:
			var v uint8
			v, ok = s.enum(&bookKindTable)
			ob.Kind = BookKind(v)
		case bookSequence:
			ok = s.uint(&ob.Sequence)
		case bookBids:
			ok = s.levels(&ob.Bids)
		case bookAsks:
			ok = s.levels(&ob.Asks)
		case bookDatetime:
			ok = s.time(&ob.Time)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	ob.Exchange, ob.Symbol = intern(s.raw(ex)), intern(s.raw(sym))
	return true
}
