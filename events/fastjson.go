package events

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
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

// digitPair[n] is the two ASCII digits of n (0..99) as a little-endian
// uint16, so that a pair takes one load.
var digitPair = func() (t [100]uint16) {
	for n := range t {
		t[n] = uint16(digitPairs[2*n]) | uint16(digitPairs[2*n+1])<<8
	}
	return t
}()

// decDigits returns the number of decimal digits of v (1 for 0).
func decDigits(v uint64) uint {
	v |= 1 // same digit count for v ≥ 1 (10^k is even), and 1 digit for 0
	// bits.Len64(v)×1233/4096 is ⌊log10 2^len⌋: the digit count less one,
	// or v is below that power of ten.
	t := uint(bits.Len64(v)) * 1233 >> 12
	if v >= pow10u64[t] {
		return t + 1
	}
	return t
}

// appendDec appends d as a JSON string in its canonical text form (as
// Decimal.MarshalJSON). Coefficients of up to 64 bits are formatted here:
// the length of the text is worked out first from the coefficient's
// digit count, then the text is written from its last character to its
// first straight into b's spare capacity (the fractional pairs take the
// leading zeros of 0.00d by themselves); larger ones by
// Decimal.appendCanonical. It never fails (ok is always true).
func appendDec(b []byte, d Decimal) ([]byte, bool) {
	if d.hi != 0 {
		b = append(b, '"')
		b = d.appendCanonical(b)
		return append(b, '"'), true
	}
	lo, prec := d.lo, uint(d.places)
	for prec > 0 && lo%10 == 0 {
		lo /= 10 // canonical form: no trailing fractional zeros (and 0 is "0")
		prec--
	}
	n := decDigits(lo) // the digits: at least one before the point
	if prec > 0 {
		n = max(n, prec+1) + 1 // and the point
	}
	n += 2 // the quotes
	if d.neg {
		n++
	}
	// '"', '-', 20 digits, '.', '"': 24 bytes at most.
	if cap(b)-len(b) < 24 {
		b = grow(b, 24)
	}
	at := len(b)
	o := (*[24]byte)(b[at : at+24])
	j := n - 1
	o[j] = '"'
	if prec > 0 {
		for ; prec >= 2; prec -= 2 {
			q := lo / 100
			p := digitPair[lo-q*100]
			j -= 2
			o[j], o[j+1] = byte(p), byte(p>>8)
			lo = q
		}
		if prec == 1 {
			q := lo / 10
			j--
			o[j] = byte('0' + lo - q*10)
			lo = q
		}
		j--
		o[j] = '.'
	}
	for lo >= 100 {
		q := lo / 100
		p := digitPair[lo-q*100]
		j -= 2
		o[j], o[j+1] = byte(p), byte(p>>8)
		lo = q
	}
	if lo >= 10 {
		p := digitPair[lo]
		o[j-2], o[j-1] = byte(p), byte(p>>8)
	} else {
		o[j-1] = byte('0' + lo)
	}
	if d.neg {
		o[1] = '-'
	}
	o[0] = '"'
	return b[:at+int(n)], true
}

// grow returns b with room for n more bytes. It is kept out of line so
// that the callers' common path, with room to spare, stays small.
//
//go:noinline
func grow(b []byte, n int) []byte { return slices.Grow(b, n) }

// put2 writes v (0..99) as two digits at b[0], b[1].
func put2(b []byte, v uint) {
	b[0], b[1] = digitPairs[v*2], digitPairs[v*2+1]
}

// appendTime appends t in UTC as a JSON string, as time.Time.MarshalJSON
// does (RFC 3339 with nanoseconds, trailing zeros trimmed); ok is false
// for a year outside 0..9999 (which MarshalJSON rejects).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	sec := t.Unix()
	if sec < year0Unix || sec >= endRFC3339Unix {
		return b, false
	}
	since0 := uint64(sec - year0Unix)
	year, month, day := civilDate(int64(since0 / 86400))
	clock := uint(since0 % 86400)
	const most = len(`"2006-01-02T15:04:05.999999999Z"`)
	b = slices.Grow(b, most)
	n := len(b)
	out := b[n : n+most]
	out[0] = '"'
	put2(out[1:], uint(year)/100)
	put2(out[3:], uint(year)%100)
	out[5] = '-'
	put2(out[6:], uint(month))
	out[8] = '-'
	put2(out[9:], uint(day))
	out[11] = 'T'
	put2(out[12:], clock/3600)
	out[14] = ':'
	put2(out[15:], clock/60%60)
	out[17] = ':'
	put2(out[18:], clock%60)
	i := 20
	if ns := uint32(t.Nanosecond()); ns != 0 {
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		out[i] = '.'
		j := i + digits // the last digit; leading zeros included
		for k := digits; k >= 2; k -= 2 {
			q := ns / 100
			r := (ns - q*100) * 2
			out[j-1], out[j] = digitPairs[r], digitPairs[r+1]
			ns, j = q, j-2
		}
		if digits%2 == 1 {
			out[j] = byte('0' + ns)
		}
		i += 1 + digits
	}
	out[i], out[i+1] = 'Z', '"'
	return b[:n+i+2], true
}

// year0Unix is the Unix second of 0000-01-01T00:00:00Z.
const year0Unix = -62167219200

// civilDate returns the proleptic Gregorian date of the day that is days
// (0 ≤ days < 3652425) after 0000-01-01 (Hinnant's civil_from_days, on
// years counted from 0000-03-01 so that the leap day ends a year; one 400-
// year era is added so that every quotient is of non-negative numbers).
func civilDate(days int64) (year, month, day int) {
	z := uint(days) - 60 + 146097 // days since -0400-03-01
	era := z / 146097
	doe := z - era*146097                                  // day of the era, 0..146096
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era, 0..399
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of the year from March 1, 0..365
	mp := (5*doy + 2) / 153                                // month from March, 0..11
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	year = int(yoe+era*400) - 400
	if month > 12 {
		month -= 12
		year++
	}
	return year, month, day
}

// civilDays is the inverse of civilDate: the days from 0000-01-01 to
// year-month-day (year 0..9999, month 1..12, day 1..31).
func civilDays(year, month, day int) int64 {
	if month <= 2 {
		year-- // January and February end the year that starts in March
	}
	year += 400 // one era more, so that year ≥ 0
	era := year / 400
	yoe := year - era*400
	mp := (month + 9) % 12 // month from March
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 146097 + 60
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
	// For each side (0 bids, 1 asks) as last decoded: unproven if some
	// level was not read on the short path or breaks a rule of
	// OrderBook.Validate (see levels); zero if some amount is 0.
	unproven, zero [2]bool
}

// span is where a string value lies in the document (without quotes).
type span struct{ lo, hi int }

func (s *scanner) ws() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' {
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
	for ; len(b)-j >= 8; j += 8 {
		if m := notPlain8(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			j += bits.TrailingZeros64(m) / 8
			goto found
		}
	}
	for j < len(b) && strPlain[b[j]] {
		j++
	}
found:
	if j >= len(b) || b[j] != '"' {
		return span{}, false
	}
	s.i = j + 1
	return span{i + 1, j}, true
}

// notPlain8 returns a mask whose lowest set bit is the high bit of the
// first of the 8 bytes of w (the first in the low byte) that strPlain
// rejects: below ' ', '"', '\\', or 0x7f and above. Each test is exact
// for its first match (a borrow or carry between bytes starts only at a
// byte that matches), so that is the lowest bit of their union; the bits
// above it are not meaningful.
func notPlain8(w uint64) uint64 {
	const ones, high = 0x01010101_01010101, 0x80808080_80808080
	quote, backslash := w^('"'*ones), w^('\\'*ones)
	return ((w-' '*ones) & ^w | // below ' '
		(quote-ones)&^quote | // '"'
		(backslash-ones)&^backslash | // '\\'
		(w + ones) | w) & high // 0x7f and above
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
// as `,"name":` in the order its encoder writes them (words holds their
// keyWords). The key after the previous one is tried first as a literal,
// with the ',' that separates it from the previous value (none before
// the first key), so a document in the encoder's order is read without
// scanning keys. done is true at the closing '}', which must end the
// document; ok is false for anything else, including a key not in keys.
func (s *scanner) nextKey(keys []string, words []keyWords) (idx int, done, ok bool) {
	if h := s.hint; h < len(keys) {
		if s.keys > 0 {
			if words[h].match(s.b[s.i:]) {
				s.i += int(words[h].n)
				s.keys++
				s.hint = h + 1
				return h, false, true
			}
		} else if k := keys[h][1:]; len(s.b)-s.i >= len(k) && string(s.b[s.i:s.i+len(k)]) == k {
			s.i += len(k)
			s.keys++
			s.hint = h + 1
			return h, false, true
		}
	}
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
	}
	s.keys++
	sp, ok := s.str()
	if !ok || !s.eat(':') {
		return 0, false, false
	}
	raw := s.raw(sp)
	for i, k := range keys {
		if string(raw) == k[2:len(k)-2] {
			s.hint = i + 1
			return i, false, true
		}
	}
	return 0, false, false
}

// keyWords is a key literal of 6 to 16 bytes as two overlapping
// little-endian words, its first and last 8 bytes (a shorter key: its
// bytes in the low end of first, and mask covering them), so that
// nextKey compares it with two loads instead of a call to compare
// strings.
type keyWords struct {
	first, last, mask uint64
	n                 int
}

func keyWordsOf(keys []string) []keyWords {
	w := make([]keyWords, len(keys))
	for i, k := range keys {
		if len(k) > 16 || len(k) == 0 {
			panic("tradebus: key literal " + k + " longer than 16 bytes")
		}
		var b [16]byte
		copy(b[:], k)
		w[i] = keyWords{first: binary.LittleEndian.Uint64(b[:8]), mask: ^uint64(0), n: len(k)}
		if len(k) >= 8 {
			w[i].last = binary.LittleEndian.Uint64([]byte(k[len(k)-8:]))
		} else {
			w[i].mask = 1<<(8*len(k)) - 1
		}
	}
	return w
}

// match reports whether b starts with the key.
func (k *keyWords) match(b []byte) bool {
	if len(b) < 16 {
		// Near the end of the document: only a key shorter than 8
		// bytes with no room for a word, or a longer one, is cut short.
		if len(b) < 8 || len(b) < k.n {
			return false // nextKey goes on to read the key the slow way
		}
	}
	if binary.LittleEndian.Uint64(b)&k.mask != k.first {
		return false
	}
	return k.n <= 8 || binary.LittleEndian.Uint64(b[k.n-8:]) == k.last
}

// text reads a string value; the caller turns its span into a string
// once the document is accepted (so a document that falls back to
// encoding/json costs no string).
func (s *scanner) text(sp *span) bool {
	v, ok := s.str()
	*sp = v
	return ok
}

// decimal reads a decimal string as Decimal.UnmarshalJSON does: the
// short form with scanDec, anything else through Decimal.UnmarshalJSON.
func (s *scanner) decimal(d *Decimal) bool {
	s.ws()
	if coef, places, end, ok := scanDec(s.b, s.i); ok && setDec(d, coef, places) {
		s.i = end
		return true
	}
	sp, ok := s.str()
	return ok && d.UnmarshalJSON(s.b[sp.lo-1:sp.hi+1]) == nil
}

// scanDec reads the decimal string that opens at b[i] if it has the
// short form parseSmallDecimal takes — unsigned digits without a leading
// zero (or a single "0"), optionally '.' and at least one digit, at most
// 19 digits in all — in the same pass that finds its closing quote. It
// returns the coefficient, the places and the index after the closing
// quote; ok is false for anything else (which may still be a decimal).
func scanDec(b []byte, i int) (coef uint64, places uint8, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, 0, false
	}
	j := uint(i) + 1
	start := j
	coef, j = digitRun(b, j, 0)
	intLen, fracLen := j-start, uint(0)
	if j < uint(len(b)) && b[j] == '.' {
		frac := j + 1
		if coef, j = digitRun(b, frac, coef); j == frac {
			return 0, 0, 0, false // "5."
		}
		fracLen = j - frac
	}
	if j < uint(len(b)) && b[j] == '"' && intLen > 0 && intLen+fracLen <= 19 &&
		(intLen == 1 || b[start] != '0') { // no leading zero
		return coef, uint8(fracLen), int(j) + 1, true
	}
	return 0, 0, 0, false
}

// digitRun reads the decimal digits from b[i] on, adding each to v (as
// v×10 + digit), and returns v and the index after them. Its index is
// unsigned so that the bounds check of b[i] folds into the loop's test.
func digitRun(b []byte, i uint, v uint64) (uint64, uint) {
	for ; i < uint(len(b)); i++ {
		d := uint64(b[i]) - '0'
		if d > 9 {
			break
		}
		v = v*10 + d
	}
	return v, i
}

// setDec sets d to coef×10^-places (places as written, at most 19, as
// scanDec returns them); ok is always true.
func setDec(d *Decimal, coef uint64, places uint8) bool {
	*d = mkDec(false, 0, coef, places)
	return true
}

// time reads an RFC 3339 string as time.Time.UnmarshalJSON does. The
// form the encoders write (UTC, "Z", 0 to 9 fractional digits) is parsed
// here, with the same range checks and the same result as the library's
// parser; anything else goes through time.Time.UnmarshalJSON.
func (s *scanner) time(t *time.Time) bool {
	s.ws()
	// That form holds no quote, escape or control byte, so its closing
	// quote is the first after the opening one: no need to scan the
	// string byte by byte first (as str does).
	if b, i := s.b, s.i; i < len(b) && b[i] == '"' {
		rest := b[i+1:]
		if n := bytes.IndexByte(rest[:min(len(rest), maxUTCTime+1)], '"'); n >= 0 {
			if v, ok := parseUTCTime(rest[:n]); ok {
				*t = v
				s.i = i + n + 2
				return true
			}
		}
	}
	sp, ok := s.str()
	return ok && t.UnmarshalJSON(s.b[sp.lo-1:sp.hi+1]) == nil
}

// maxUTCTime is the longest string parseUTCTime takes.
const maxUTCTime = len("2006-01-02T15:04:05.999999999Z")

// parseUTCTime parses "2006-01-02T15:04:05[.fffffffff]Z"; ok is false for
// anything else, including a value time.Parse would reject. The result is
// the time.Date(..., time.UTC) of the fields, computed without it.
func parseUTCTime[S string | []byte](b S) (time.Time, bool) {
	const short = len("2006-01-02T15:04:05Z")
	if len(b) < short || b[len(b)-1] != 'Z' ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	c, okc := num2(b[0], b[1])
	y, oky := num2(b[2], b[3])
	month, okm := num2(b[5], b[6])
	day, okd := num2(b[8], b[9])
	hour, okh := num2(b[11], b[12])
	minute, okmi := num2(b[14], b[15])
	sec, oks := num2(b[17], b[18])
	year := c*100 + y
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		i := 1
		if len(frac) >= 9 {
			// 8 or 9 digits (a clock's nanoseconds usually take 9): the
			// first 8 as one little-endian word.
			w := uint64(frac[1]) | uint64(frac[2])<<8 | uint64(frac[3])<<16 | uint64(frac[4])<<24 |
				uint64(frac[5])<<32 | uint64(frac[6])<<40 | uint64(frac[7])<<48 | uint64(frac[8])<<56
			v, ok := digits8(w)
			if !ok {
				return time.Time{}, false
			}
			nsec, i = int(v), 9
		}
		for ; i < len(frac); i++ {
			d := frac[i] - '0'
			if d > 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(d)
		}
		nsec *= int(pow10u64[10-len(frac)])
	}
	if !(okc && oky && okm && okd && okh && okmi && oks) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	unix := civilDays(year, month, day)*86400 + int64(hour*3600+minute*60+sec) + year0Unix
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// digits8 returns the value of the 8 ASCII digits in w, the first in its
// low byte; ok is false if any byte is not a digit.
func digits8(w uint64) (uint32, bool) {
	const ones = 0x0101010101010101
	// Every byte is in '0'..'9' iff its high nibble is 3, and still is
	// with 6 added (no carry between bytes: a byte is at most 0x3f).
	if w&(0xf0*ones) != 0x30*ones || (w+6*ones)&(0xf0*ones) != 0x30*ones {
		return 0, false
	}
	d := w - '0'*ones                        // the digits
	d = (d*10 + d>>8) & 0x00ff00ff00ff00ff   // pairs: 10×first + second
	d = (d*100 + d>>16) & 0x0000ffff0000ffff // quads
	return uint32(d*10000 + d>>32), true
}

// num2 returns the value of two ASCII digits; ok is false if either is
// not a digit.
func num2(hi, lo byte) (v int, ok bool) {
	h, l := hi-'0', lo-'0'
	return int(h)*10 + int(l), h <= 9 && l <= 9
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

// enum reads an enum name as the enums' UnmarshalText does. A name is
// plain ASCII, so if the string is one its closing quote is the first
// after the opening one, and matching it against the names checks every
// byte: the string needs no separate scan for escapes (as str does).
func (s *scanner) enum(tab *enumTable) (uint8, bool) {
	s.ws()
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	n := bytes.IndexByte(b[i+1:], '"')
	if n < 0 {
		return 0, false
	}
	v, ok := tab.find(b[i+1 : i+1+n])
	if ok {
		s.i = i + n + 2
	}
	return v, ok
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

// levels decodes an array of ["price","amount"] pairs for side (0 bids,
// 1 asks). An empty array gives an empty, non-nil slice, as encoding/json
// does. Every side of the document is decoded into s.pool, so that the
// bids and asks share one allocation. It is sized on first use to the
// number of '[' left in the document less one: every level has its own
// '[', and in a document with both sides the other side's array has one
// more. Should a document hold more levels than that (it has one side
// only), the side being decoded moves to a larger array (grow). The
// returned slice's capacity ends at its length, so appending to one side
// never writes into the other.
//
// Levels in the encoder's form are read by fastLevels (or level), which
// also see their coefficients: levels then checks the per-level rules of
// OrderBook.Validate with them as it goes (prices positive and in strict
// order; amounts are never negative on that path, and zero ones are
// noted, as they are valid in a delta only), so that validation need not
// compare the levels again (see OrderBook.check). A side with a level
// read otherwise, or one that breaks a rule, is left unproven and
// checked by Validate as usual.
func (s *scanner) levels(lv *[]PriceLevel, side int) bool {
	if !s.eat('[') {
		return false
	}
	if s.pool == nil {
		s.pool = make([]PriceLevel, 0, max(bytes.Count(s.b[s.i:], []byte{'['})-1, 0))
	}
	start := len(s.pool)
	run := levelRun{proven: true, order: 2*side - 1} // bids descend, asks ascend
	// Levels in the encoder's form are read by fastLevels; the first
	// level in any other form (or one that needs a larger array) and the
	// rest of the array go to the general loop below.
	pool, i, sep, done := fastLevels(s.b, s.i, s.pool, &run)
	s.i, s.pool = i, pool
	for !done {
		if sep {
			if s.eat(']') {
				break
			}
			if !s.eat(',') {
				return false
			}
		} else if len(s.pool) == start && s.eat(']') {
			break // an empty array
		}
		sep = true
		n := len(s.pool)
		if n == cap(s.pool) {
			s.grow(start)
			start, n = 0, len(s.pool)
		}
		// The new level is zero: the array is only ever extended (and a
		// failed document is dropped with it), so there is no need to
		// write a zero PriceLevel first.
		s.pool = s.pool[:n+1]
		l := &s.pool[n]
		if pc, pp, ac, ok := s.level(l); !ok {
			if !s.eat('[') || !s.decimal(&l.Price) || !s.eat(',') || !s.decimal(&l.Amount) || !s.eat(']') {
				return false
			}
			run.proven = false
		} else if run.proven {
			run.proven = pc != 0 && (n == start || cmpScaled(pc, pp, run.prevCoef, run.prevPlaces) == run.order)
			run.zero = run.zero || ac == 0
			run.prevCoef, run.prevPlaces = pc, pp
		}
	}
	*lv = s.pool[start:len(s.pool):len(s.pool)]
	s.unproven[side], s.zero[side] = !run.proven, run.zero
	return true
}

// levelRun is what levels knows of the side it is reading: whether every
// level so far keeps the per-level rules (proven), whether some amount
// is 0, the last price, and the order the prices must keep (-1 for bids,
// +1 for asks).
type levelRun struct {
	proven, zero bool
	prevCoef     uint64
	prevPlaces   uint8
	order        int
}

// fastLevels reads levels in the encoder's form from b[i] on, at the
// start of an array's first level or after a ',': `["price","amount"]`
// without white space, both decimals in scanDec's short form, then ','
// (and the next level) or the array's closing ']'. It appends them to
// pool within its capacity and keeps run up to date. It stops before the
// first level in any other form, or that does not fit, and returns pool,
// the index reached, whether a level was read last (so a ',' or ']'
// comes next: sep) and whether the closing ']' was read (done).
//
// Its one call is to scanLevel, which reads a whole level, and it
// compares a price with the previous one in line (as cmpScaled does):
// Go saves no register across a call, so each call in this loop costs
// the reloading of its state.
func fastLevels(b []byte, i int, pool []PriceLevel, run *levelRun) (_ []PriceLevel, next int, sep, done bool) {
	proven, zero, prevCoef, prevPlaces, order := run.proven, run.zero, run.prevCoef, run.prevPlaces, run.order
	first := len(pool)
	for len(pool) < cap(pool) {
		pc, pp, ac, ap, j, ok := scanLevel(b, i)
		if !ok {
			break
		}
		if proven {
			var c int
			switch {
			case pp == prevPlaces:
				c = cmpU64(pc, prevCoef)
			case pp < prevPlaces:
				hi, lo := bits.Mul64(pc, pow10u64[prevPlaces-pp])
				if c = cmpU64(lo, prevCoef); hi != 0 {
					c = 1
				}
			default:
				hi, lo := bits.Mul64(prevCoef, pow10u64[pp-prevPlaces])
				if c = cmpU64(pc, lo); hi != 0 {
					c = -1
				}
			}
			proven = pc != 0 && (len(pool) == first || c == order)
			zero = zero || ac == 0
			prevCoef, prevPlaces = pc, pp
		}
		n := len(pool)
		pool = pool[:n+1]
		pool[n] = PriceLevel{Price: mkDec(false, 0, pc, pp), Amount: mkDec(false, 0, ac, ap)}
		sep, i = true, j
		if i < len(b) && b[i] == ',' {
			sep, i = false, i+1
			continue
		}
		if i < len(b) && b[i] == ']' {
			i++
			done = true
		}
		break
	}
	run.proven, run.zero, run.prevCoef, run.prevPlaces = proven, zero, prevCoef, prevPlaces
	return pool, i, sep, done
}

// scanLevel reads the level in the encoder's form that opens at b[i]:
// `["price","amount"]` without white space, both decimals in scanDec's
// short form (read as scanDec does, written out here so that the level
// takes one call: a helper shared with scanDec, one call per decimal,
// decoded a 10-level book 4.6% slower, median of 7 alternating runs,
// 2026-11-30). It returns their coefficients and places and the
// index after the ']'; ok is false for anything else.
func scanLevel(b []byte, i int) (pc uint64, pp uint8, ac uint64, ap uint8, end int, ok bool) {
	if i+1 >= len(b) || b[i] != '[' || b[i+1] != '"' {
		return 0, 0, 0, 0, 0, false
	}
	// The price.
	j := uint(i) + 2
	start := j
	pc, j = digitRun(b, j, 0)
	intLen, fracLen := j-start, uint(0)
	if j < uint(len(b)) && b[j] == '.' {
		frac := j + 1
		if pc, j = digitRun(b, frac, pc); j == frac {
			return 0, 0, 0, 0, 0, false // "5."
		}
		fracLen = j - frac
	}
	if j+2 >= uint(len(b)) || b[j] != '"' || b[j+1] != ',' || b[j+2] != '"' ||
		intLen == 0 || intLen+fracLen > 19 || (intLen > 1 && b[start] == '0') {
		return 0, 0, 0, 0, 0, false
	}
	pp = uint8(fracLen)
	// The amount.
	j += 3
	start = j
	ac, j = digitRun(b, j, 0)
	intLen, fracLen = j-start, 0
	if j < uint(len(b)) && b[j] == '.' {
		frac := j + 1
		if ac, j = digitRun(b, frac, ac); j == frac {
			return 0, 0, 0, 0, 0, false
		}
		fracLen = j - frac
	}
	if j+1 >= uint(len(b)) || b[j] != '"' || b[j+1] != ']' ||
		intLen == 0 || intLen+fracLen > 19 || (intLen > 1 && b[start] == '0') {
		return 0, 0, 0, 0, 0, false
	}
	return pc, pp, ac, uint8(fracLen), int(j) + 2, true
}

// level reads a level in the encoder's form (see scanLevel) into l; it
// returns the coefficients of the price and amount and the price's
// places. ok is false for anything else, and then nothing is consumed.
func (s *scanner) level(l *PriceLevel) (price uint64, places uint8, amount uint64, ok bool) {
	pc, pp, ac, ap, end, ok := scanLevel(s.b, s.i)
	if !ok {
		return 0, 0, 0, false
	}
	l.Price, l.Amount = mkDec(false, 0, pc, pp), mkDec(false, 0, ac, ap)
	s.i = end
	return pc, pp, ac, true
}

// grow moves the levels decoded so far of the side that starts at
// s.pool[start] to a new, larger array.
func (s *scanner) grow(start int) {
	cur := s.pool[start:]
	p := make([]PriceLevel, len(cur), 2*len(cur)+4)
	copy(p, cur)
	s.pool = p
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
	tradeExchange:     `,"exchange":`,
	tradeSymbol:       `,"symbol":`,
	tradeID:           `,"id":`,
	tradePrice:        `,"price":`,
	tradeAmount:       `,"amount":`,
	tradeSide:         `,"side":`,
	tradeTakerOrMaker: `,"takerOrMaker":`,
	tradeDatetime:     `,"datetime":`,
}

var tradeKeyWords = keyWordsOf(tradeKeys[:])

// proof is what a fast decoder has verified of the rules of Validate
// while it read a document, so that validation may skip them.
type proof struct {
	segments bool // exchange and symbol are valid routing-key segments (see internSegment)
	levels   bool // every order-book level keeps the per-level rules (see scanner.levels)
}

func (t *Trade) decodeFast(data []byte) bool {
	ok, _ := t.decodeFastProof(data)
	return ok
}

// decodeFastProof is decodeFast that also reports what it has verified.
func (t *Trade) decodeFastProof(data []byte) (bool, proof) {
	s := scanner{b: data}
	if !s.open() {
		return false, proof{}
	}
	var ex, sym, id span
	for {
		k, done, ok := s.nextKey(tradeKeys[:], tradeKeyWords)
		if !ok {
			return false, proof{}
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
			return false, proof{}
		}
		if !ok {
			return false, proof{}
		}
	}
	var exOK, symOK bool
	t.Exchange, exOK = internSegment(s.raw(ex))
	t.Symbol, symOK = internSegment(s.raw(sym))
	t.TradeID = string(s.raw(id))
	return true, proof{segments: exOK && symOK}
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
	tickerExchange:    `,"exchange":`,
	tickerSymbol:      `,"symbol":`,
	tickerBid:         `,"bid":`,
	tickerBidVolume:   `,"bidVolume":`,
	tickerAsk:         `,"ask":`,
	tickerAskVolume:   `,"askVolume":`,
	tickerLast:        `,"last":`,
	tickerHigh:        `,"high":`,
	tickerLow:         `,"low":`,
	tickerBaseVolume:  `,"baseVolume":`,
	tickerQuoteVolume: `,"quoteVolume":`,
	tickerDatetime:    `,"datetime":`,
}

var tickerKeyWords = keyWordsOf(tickerKeys[:])

func (t *Ticker) decodeFast(data []byte) bool {
	ok, _ := t.decodeFastProof(data)
	return ok
}

// decodeFastProof is decodeFast that also reports what it has verified.
func (t *Ticker) decodeFastProof(data []byte) (bool, proof) {
	s := scanner{b: data}
	if !s.open() {
		return false, proof{}
	}
	var ex, sym span
	for {
		k, done, ok := s.nextKey(tickerKeys[:], tickerKeyWords)
		if !ok {
			return false, proof{}
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
			return false, proof{}
		}
		if !ok {
			return false, proof{}
		}
	}
	var exOK, symOK bool
	t.Exchange, exOK = internSegment(s.raw(ex))
	t.Symbol, symOK = internSegment(s.raw(sym))
	return true, proof{segments: exOK && symOK}
}

// --- OrderBook ---

// appendLevels appends lv as an array of ["price","amount"] pairs. It
// also reports whether it vouches, from the coefficients it formats, for
// the per-level rules of Validate (as keepRules does: order is -1 for
// bids, +1 for asks; zeroOK in a delta), so that Marshal need not walk
// the levels twice (see OrderBook.validateAppend).
func appendLevels(b []byte, lv []PriceLevel, order int, zeroOK bool) ([]byte, bool) {
	valid := true
	var prev *Decimal
	b = append(b, '[')
	for i := range lv {
		p, a := &lv[i].Price, &lv[i].Amount
		if valid {
			valid = p.hi|a.hi == 0 && !p.neg && p.lo != 0 && !a.neg && (a.lo != 0 || zeroOK) &&
				(i == 0 || cmpScaled(p.lo, p.places, prev.lo, prev.places) == order)
		}
		prev = p
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b, _ = appendDec(b, *p)
		b = append(b, ',')
		b, _ = appendDec(b, *a)
		b = append(b, ']')
	}
	return append(b, ']'), valid
}

func (ob *OrderBook) appendJSON(b []byte) ([]byte, bool) {
	b, ok, _ := ob.appendJSONLevels(b)
	return b, ok
}

// appendJSONLevels is appendJSON that also reports whether appendLevels
// vouched for the per-level rules of every level.
func (ob *OrderBook) appendJSONLevels(b []byte) (out []byte, ok, levelsValid bool) {
	if !ob.Kind.Valid() {
		return b, false, false
	}
	b = append(b, `{"exchange":`...)
	if b, ok = appendStr(b, ob.Exchange); !ok {
		return b, false, false
	}
	b = append(b, `,"symbol":`...)
	if b, ok = appendStr(b, ob.Symbol); !ok {
		return b, false, false
	}
	b = append(b, `,"kind":`...)
	b = appendName(b, ob.Kind.String())
	if ob.Sequence != 0 {
		b = append(b, `,"sequence":`...)
		b = appendUint(b, ob.Sequence)
	}
	delta := ob.Kind == BookDelta
	b = append(b, `,"bids":`...)
	b, bidsValid := appendLevels(b, ob.Bids, -1, delta)
	b = append(b, `,"asks":`...)
	b, asksValid := appendLevels(b, ob.Asks, +1, delta)
	b = append(b, `,"datetime":`...)
	if b, ok = appendTime(b, ob.Time); !ok {
		return b, false, false
	}
	return append(b, '}'), true, bidsValid && asksValid
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
	bookExchange: `,"exchange":`,
	bookSymbol:   `,"symbol":`,
	bookKind:     `,"kind":`,
	bookSequence: `,"sequence":`,
	bookBids:     `,"bids":`,
	bookAsks:     `,"asks":`,
	bookDatetime: `,"datetime":`,
}

var bookKeyWords = keyWordsOf(bookKeys[:])

func (ob *OrderBook) decodeFast(data []byte) bool {
	ok, _ := ob.decodeFastProof(data)
	return ok
}

// decodeFastProof is decodeFast that also reports what it has verified:
// the segments, and the per-level rules of Validate (see scanner.levels).
func (ob *OrderBook) decodeFastProof(data []byte) (bool, proof) {
	s := scanner{b: data}
	if !s.open() {
		return false, proof{}
	}
	var ex, sym span
	for {
		k, done, ok := s.nextKey(bookKeys[:], bookKeyWords)
		if !ok {
			return false, proof{}
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
			ok = s.levels(&ob.Bids, 0)
		case bookAsks:
			ok = s.levels(&ob.Asks, 1)
		case bookDatetime:
			ok = s.time(&ob.Time)
		default:
			return false, proof{}
		}
		if !ok {
			return false, proof{}
		}
	}
	var exOK, symOK bool
	ob.Exchange, exOK = internSegment(s.raw(ex))
	ob.Symbol, symOK = internSegment(s.raw(sym))
	levelsValid := !s.unproven[0] && !s.unproven[1] &&
		(ob.Kind == BookDelta || !s.zero[0] && !s.zero[1]) // a zero amount removes a level in a delta only
	return true, proof{segments: exOK && symOK, levels: levelsValid}
}
