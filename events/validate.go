package events

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxTextLen bounds free-text identifiers (ids, accounts, reasons) so that
// one malformed producer cannot push megabyte ids through the bus.
const maxTextLen = 256

// The Unix seconds of 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z.
const (
	minRFC3339Unix = -62135596800
	endRFC3339Unix = 253402300800
)

// checker collects the first validation failure of one event. It lives on
// the caller's stack, so validating a valid event does not allocate.
type checker struct {
	typ string
	err *ValidationError
}

func (c *checker) result() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

func (c *checker) fail(field, value, reason string) {
	if c.err == nil {
		c.err = &ValidationError{Type: c.typ, Field: field, Value: value, Reason: reason}
	}
}

// segment: a required routing-key segment (exchange, symbol, asset, ...).
func (c *checker) segment(field, v string) {
	if c.err != nil {
		return
	}
	if segmentPlain(v) {
		return // ValidateSegment's common case, without the call
	}
	if v == "" {
		c.fail(field, v, "required")
		return
	}
	if err := ValidateSegment(v); err != nil {
		c.fail(field, v, err.(*RoutingError).Reason+" (not allowed in a routing-key segment)")
	}
}

// segmentPlain reports whether v is a non-empty string of the bytes
// segmentASCII allows, which ValidateSegment accepts.
func segmentPlain(v string) bool {
	for i := 0; i < len(v); i++ {
		if !segmentASCII[v[i]] {
			return false
		}
	}
	return v != ""
}

// text: a free-text field: valid UTF-8, printable, at most maxTextLen bytes.
func (c *checker) text(field, v string, required bool) {
	if c.err != nil {
		return
	}
	if v == "" {
		if required {
			c.fail(field, v, "required")
		}
		return
	}
	if len(v) > maxTextLen {
		c.fail(field, v[:32]+"...", "longer than "+strconv.Itoa(maxTextLen)+" bytes")
		return
	}
	if printableASCII(v) {
		return // valid UTF-8, and printable (the rune loop below agrees)
	}
	if !utf8.ValidString(v) {
		c.fail(field, v, "not valid UTF-8")
		return
	}
	for _, r := range v {
		if !unicode.IsPrint(r) && r != ' ' {
			c.fail(field, v, "contains a control or non-printable character")
			return
		}
	}
}

// id: like text, but no white space at all (client order ids, trade ids).
func (c *checker) id(field, v string, required bool) {
	if c.err == nil && v != "" && len(v) <= maxTextLen && idASCII(v) {
		return // the common id, checked in one pass: as below, it is valid
	}
	c.text(field, v, required)
	if c.err != nil {
		return
	}
	if printableASCII(v) && strings.IndexByte(v, ' ') < 0 {
		return // the only white space in printable ASCII is ' '
	}
	for _, r := range v {
		if unicode.IsSpace(r) {
			c.fail(field, v, "contains white space")
			return
		}
	}
}

// idASCII reports whether every byte of v is in '!'..'~' (printable
// ASCII but ' '), which makes a non-empty id of up to maxTextLen bytes
// valid.
func idASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i]-'!' > '~'-'!' {
			return false
		}
	}
	return true
}

// printableASCII reports whether every byte of v is in ' '..'~'.
func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func (c *checker) positive(field string, d Decimal) {
	if c.err == nil && !d.IsPositive() {
		c.fail(field, d.String(), "must be positive")
	}
}

func (c *checker) nonNegative(field string, d Decimal) {
	if c.err == nil && d.IsNegative() {
		c.fail(field, d.String(), "must not be negative")
	}
}

// optPositive: zero means absent; otherwise must be positive.
func (c *checker) optPositive(field string, d Decimal) {
	if c.err == nil && d.IsNegative() {
		c.fail(field, d.String(), "must be positive (or absent)")
	}
}

// mustZero: the reason is passed in parts and joined only on failure, so
// that a valid event is checked without allocating.
func (c *checker) mustZero(field string, d Decimal, reason ...string) {
	if c.err == nil && !d.IsZero() {
		c.fail(field, d.String(), strings.Join(reason, ""))
	}
}

// time: required, and encodable as RFC 3339 (UTC year 1..9999).
func (c *checker) time(field string, t time.Time, required bool) {
	if c.err != nil {
		return
	}
	if t.IsZero() {
		if required {
			c.fail(field, "", "required (zero time)")
		}
		return
	}
	// The UTC year is in 1..9999 exactly when the Unix second is in
	// [0001-01-01T00:00:00Z, 10000-01-01T00:00:00Z): cheaper than Year.
	if sec := t.Unix(); sec < minRFC3339Unix || sec >= endRFC3339Unix {
		c.fail(field, t.String(), "year outside 1..9999")
	}
}

type validEnum interface {
	Valid() bool
	String() string
}

func (c *checker) enum(field string, v validEnum, required bool, zero bool) {
	if c.err != nil {
		return
	}
	if zero {
		if required {
			c.fail(field, "", "required")
		}
		return
	}
	if !v.Valid() {
		c.fail(field, v.String(), "unknown value")
	}
}
