package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strings"

	"github.com/quagmt/udecimal"
)

// ErrDecimal is matched (errors.Is) by every error about a decimal value:
// a string that is not a decimal, a value with more fractional digits than
// can be represented, a value or result out of range, an inexact
// operation, division by zero, or a JSON number where a decimal string was
// expected.
var ErrDecimal = errors.New("tradebus: invalid decimal")

// MaxDecimalPlaces is the largest number of digits after the decimal point
// a Decimal holds. A value with more places is rejected, never rounded.
const MaxDecimalPlaces = 19

// maxDecimalText is the longest text ParseDecimal accepts. The canonical
// form of every Decimal is at most 41 bytes (a sign, 39 digits and the
// point, or "-0." and 19 places), so this leaves room only for leading
// zeros; it bounds the work a hostile string can cause.
const maxDecimalText = 64

// reasonRange is the error reason for a value or result whose
// coefficient does not fit in 128 bits.
const reasonRange = "out of range: the digits without the point (trailing fractional zeros dropped) " +
	"must make a number below 2^128, about 38 significant digits"

// DecimalError names the input or operation that failed and why. It
// matches ErrDecimal with errors.Is.
type DecimalError struct {
	Op     string // "parse", "mul", "div", "add", "json", ...
	Input  string // the offending text or operands, shortened to 64 bytes
	Reason string
}

func (e *DecimalError) Error() string {
	return fmt.Sprintf("tradebus: decimal %s %q: %s", e.Op, e.Input, e.Reason)
}

// Unwrap returns ErrDecimal.
func (e *DecimalError) Unwrap() error { return ErrDecimal }

func decimalErr(op, input, reason string) error {
	return newDecimalErr(op, input, reason)
}

func newDecimalErr(op, input, reason string) *DecimalError {
	if len(input) > 64 {
		input = input[:61] + "..."
	}
	return &DecimalError{Op: op, Input: input, Reason: reason}
}

// Decimal is an exact signed decimal number for every price, quantity,
// amount and fee in tradebus: a coefficient below 2^128 (any number of
// up to 38 significant digits, the range of SQL's DECIMAL(38), and some
// of 39) and at most MaxDecimalPlaces (19) fractional digits. It holds no
// pointer, so a slice of values holding Decimals (an order book's levels)
// is an allocation the garbage collector does not scan.
//
// Rules:
//   - It is parsed from and written as text ("123.45"), in JSON always as a
//     JSON string. A JSON number is rejected, so no float64 ever touches a
//     price or quantity.
//   - Nothing is rounded silently: a string with more than 19 fractional
//     digits, a product whose exact value needs more than 19, and a
//     quotient that does not terminate within 19 digits are errors
//     wrapping ErrDecimal. Rounding happens only where asked for
//     (Round, MulRound, DivRound; half to even).
//   - Nothing overflows silently either: a string, product or quotient
//     whose value is out of range (see above) is an error wrapping
//     ErrDecimal. Add and Sub, which return no error, panic with a
//     *DecimalError (Op "add" or "sub", wrapping ErrDecimal) when the
//     exact sum is out of range, as an integer overflow made loud; that
//     takes operands near 10^38, or a 20-digit integer part plus 19
//     fractional digits. Neg and Abs never fail.
//   - String and MarshalText write the canonical form: no exponent, no
//     trailing fractional zeros, "0" for zero. Equal values compare equal
//     with Cmp/Equal even when their text differs ("1.50" and "1.5"); do
//     not compare Decimals with ==.
//
// The zero value is 0. A Decimal is an immutable value, safe for
// concurrent use.
type Decimal struct {
	// The magnitude of the coefficient is hi×2^64 + lo; the value is
	// ±coefficient × 10^-places. A zero coefficient is always the zero
	// value (places 0, neg false), so zero has one form and never a sign.
	hi, lo uint64
	places uint8 // 0..MaxDecimalPlaces, trailing zeros as written
	neg    bool
}

// mkDec builds ±(hi,lo)×10^-places, with zero as the zero value.
func mkDec(neg bool, hi, lo uint64, places uint8) Decimal {
	if hi|lo == 0 {
		return Decimal{}
	}
	return Decimal{hi: hi, lo: lo, places: places, neg: neg}
}

// Handy constants.
var (
	decimalOne = Decimal{lo: 1}
)

// parseSmallDecimal parses the common short form — unsigned digits
// without a leading zero (or a single "0"), optionally '.' and 1 to 19
// digits, at most 19 digits in all — into its coefficient and places (as
// written) in one pass. It reports !ok for anything else, which the
// caller hands to the general parser.
func parseSmallDecimal[S string | []byte](b S) (Decimal, bool) {
	n := len(b)
	if n == 0 || n > 20 || (n > 1 && b[0] == '0' && b[1] != '.') {
		return Decimal{}, false
	}
	var coef uint64
	digits, places, dot := 0, 0, false
	for i := 0; i < n; i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			coef = coef*10 + uint64(c-'0')
			digits++
			if dot {
				places++
			}
		case c == '.' && !dot && i > 0 && i < n-1:
			dot = true
		default:
			return Decimal{}, false
		}
	}
	if digits > 19 {
		return Decimal{}, false
	}
	return mkDec(false, 0, coef, uint8(places)), true
}

// parseDec parses the text ParseDecimal takes: [+-]digits[.digits] with 1
// to 19 fractional digits. On failure it returns the reason.
func parseDec[S string | []byte](s S) (Decimal, string) {
	if d, ok := parseSmallDecimal(s); ok {
		return d, ""
	}
	n := len(s)
	switch {
	case n == 0:
		return Decimal{}, "empty string"
	case n > maxDecimalText:
		return Decimal{}, "longer than 64 characters"
	}
	i, neg := 0, false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	var hi, lo uint64
	fits := true
	intStart := i
	for ; i < n && s[i]-'0' <= 9; i++ {
		hi, lo, fits = mulAdd10(hi, lo, uint64(s[i]-'0'), fits)
	}
	const syntax = "not a decimal number (want [+-]digits[.digits], no exponent)"
	if i == intStart {
		return Decimal{}, syntax
	}
	places := 0
	if i < n && s[i] == '.' {
		i++
		frac := i
		for ; i < n && s[i]-'0' <= 9; i++ {
			hi, lo, fits = mulAdd10(hi, lo, uint64(s[i]-'0'), fits)
		}
		if places = i - frac; places == 0 {
			return Decimal{}, syntax
		}
	}
	switch {
	case i != n:
		return Decimal{}, syntax
	case places > MaxDecimalPlaces:
		return Decimal{}, "more than 19 digits after the decimal point cannot be represented exactly"
	case !fits:
		// Too many digits for 128 bits as written: the value may still
		// fit once trailing fractional zeros are dropped.
		return parseBig(s, neg)
	}
	return mkDec(neg, hi, lo, uint8(places)), ""
}

// parseBig is parseDec for well-formed text whose coefficient as written
// exceeds 128 bits.
func parseBig[S string | []byte](s S, neg bool) (Decimal, string) {
	digits := make([]byte, 0, len(s))
	scale := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			scale = 0
		case c >= '0' && c <= '9':
			digits = append(digits, c)
			if scale >= 0 {
				scale++
			}
		}
	}
	c, _ := new(big.Int).SetString(string(digits), 10)
	if neg {
		c.Neg(c)
	}
	d, err := fromBig(c, max(scale, 0), false)
	if err != nil {
		return Decimal{}, err.Error()
	}
	return d, ""
}

// mulAdd10 returns (hi,lo)×10 + digit; fits goes false (and stays false)
// once the result does not fit in 128 bits.
func mulAdd10(hi, lo, digit uint64, fits bool) (uint64, uint64, bool) {
	if hi == 0 && lo < (1<<64-1-9)/10 {
		return 0, lo*10 + digit, fits
	}
	c, l := bits.Mul64(lo, 10)
	o, h := bits.Mul64(hi, 10)
	l, k := bits.Add64(l, digit, 0)
	h, k = bits.Add64(h, c, k)
	return h, l, fits && o == 0 && k == 0
}

// ParseDecimal parses s ("-12.5", "0.000000000000000001"). It accepts an
// optional sign, digits, and an optional '.' followed by 1 to 19 digits;
// no exponent, no spaces; at most 64 characters. A value out of range
// (see Decimal) is an error too. The error wraps ErrDecimal.
func ParseDecimal(s string) (Decimal, error) {
	d, reason := parseDec(s)
	if reason != "" {
		return Decimal{}, decimalErr("parse", s, reason)
	}
	return d, nil
}

func parseDecimalBytes(b []byte) (Decimal, error) {
	d, reason := parseDec(b)
	if reason != "" {
		return Decimal{}, decimalErr("parse", string(b), reason)
	}
	return d, nil
}

// MustDecimal is ParseDecimal that panics on error. Use it for constants
// and tests only.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// NewDecimalFromInt returns the integer v as a Decimal.
func NewDecimalFromInt(v int64) Decimal {
	return fromInt64(v, 0)
}

func fromInt64(v int64, places uint8) Decimal {
	mag := uint64(v)
	if v < 0 {
		mag = -mag
	}
	return mkDec(v < 0, 0, mag, places)
}

// NewDecimalFromScaled returns unscaled × 10^-scale, e.g. (12345, 2) is
// 123.45. scale above MaxDecimalPlaces is an error wrapping ErrDecimal.
func NewDecimalFromScaled(unscaled int64, scale uint8) (Decimal, error) {
	if scale > MaxDecimalPlaces {
		return Decimal{}, decimalErr("scaled", fmt.Sprintf("%d e-%d", unscaled, scale), "scale above 19")
	}
	return fromInt64(unscaled, scale), nil
}

// String returns the canonical text form (see Decimal).
func (d Decimal) String() string {
	var buf [48]byte
	return string(d.appendCanonical(buf[:0]))
}

// Places returns the number of fractional digits d carries (trailing zeros
// included, e.g. 2 for a value parsed from "1.50"; 0 for zero).
func (d Decimal) Places() int { return int(d.places) }

// Cmp returns -1, 0 or +1 when d is less than, equal to or greater than e.
func (d Decimal) Cmp(e Decimal) int {
	if d.neg != e.neg { // zero is never negative
		if d.neg {
			return -1
		}
		return 1
	}
	var c int
	if d.hi|e.hi == 0 {
		c = cmpScaled(d.lo, d.places, e.lo, e.places)
	} else {
		c = cmpMag(d, e)
	}
	if d.neg {
		return -c
	}
	return c
}

// cmpScaled compares a×10^-pa with b×10^-pb (pa, pb ≤ 19, so that
// 10^|pa-pb| fits in 64 bits): the one with fewer places is scaled up in
// 128 bits.
func cmpScaled(a uint64, pa uint8, b uint64, pb uint8) int {
	switch {
	case pa < pb:
		if hi, lo := bits.Mul64(a, pow10u64[pb-pa]); hi != 0 || lo > b {
			return 1
		} else if lo < b {
			return -1
		}
		return 0
	case pa > pb:
		return -cmpScaled(b, pb, a, pa)
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpMag compares |d| with |e|, scaling the 128-bit coefficient with
// fewer places up in 192 bits.
func cmpMag(d, e Decimal) int {
	switch {
	case d.places < e.places:
		x2, x1, x0 := mul128x64(d.hi, d.lo, pow10u64[e.places-d.places])
		return cmp192(x2, x1, x0, 0, e.hi, e.lo)
	case d.places > e.places:
		return -cmpMag(e, d)
	}
	return cmp192(0, d.hi, d.lo, 0, e.hi, e.lo)
}

// mul128x64 returns (hi,lo)×m as three 64-bit words, most significant
// first.
func mul128x64(hi, lo, m uint64) (w2, w1, w0 uint64) {
	c, w0 := bits.Mul64(lo, m)
	w2, w1 = bits.Mul64(hi, m)
	w1, k := bits.Add64(w1, c, 0)
	return w2 + k, w1, w0
}

func cmp192(a2, a1, a0, b2, b1, b0 uint64) int {
	switch {
	case a2 != b2:
		return cmpU64(a2, b2)
	case a1 != b1:
		return cmpU64(a1, b1)
	}
	return cmpU64(a0, b0)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pow10u64[n] is 10^n.
var pow10u64 = func() (t [MaxDecimalPlaces + 1]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// Equal reports whether d and e are the same number.
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.neg:
		return -1
	case d.hi|d.lo != 0:
		return 1
	}
	return 0
}

// IsZero reports whether d == 0. JSON fields tagged omitzero use it.
func (d Decimal) IsZero() bool { return d.hi|d.lo == 0 }

// IsPositive reports whether d > 0.
func (d Decimal) IsPositive() bool { return !d.neg && d.hi|d.lo != 0 }

// IsNegative reports whether d < 0.
func (d Decimal) IsNegative() bool { return d.neg }

// Neg returns -d. It never fails.
func (d Decimal) Neg() Decimal { return mkDec(!d.neg, d.hi, d.lo, d.places) }

// Abs returns |d|. It never fails.
func (d Decimal) Abs() Decimal { d.neg = false; return d }

// Add returns d + e, exactly, with the larger of their places. It panics
// with a *DecimalError (wrapping ErrDecimal) if the sum is out of range
// (see Decimal).
func (d Decimal) Add(e Decimal) Decimal { return add(d, e, "add", " + ") }

// Sub returns d - e, exactly, with the larger of their places. It panics
// with a *DecimalError (wrapping ErrDecimal) if the difference is out of
// range (see Decimal).
func (d Decimal) Sub(e Decimal) Decimal {
	e.neg = !e.neg && e.hi|e.lo != 0
	return add(d, e, "sub", " - ")
}

// add returns d + e; op and sep name the operation for a panic.
func add(d, e Decimal, op, sep string) Decimal {
	places := max(d.places, e.places)
	ah, al := d.hi, d.lo
	bh, bl := e.hi, e.lo
	ok := true
	if d.places < places {
		ah, al, ok = scale128(ah, al, places-d.places)
	} else if e.places < places {
		bh, bl, ok = scale128(bh, bl, places-e.places)
	}
	if ok {
		if d.neg == e.neg {
			lo, c := bits.Add64(al, bl, 0)
			hi, c := bits.Add64(ah, bh, c)
			if c == 0 {
				return mkDec(d.neg, hi, lo, places)
			}
		} else {
			// Different signs: the larger magnitude less the smaller,
			// with its sign.
			neg := d.neg
			if ah < bh || (ah == bh && al < bl) {
				ah, al, bh, bl = bh, bl, ah, al
				neg = e.neg
			}
			lo, b := bits.Sub64(al, bl, 0)
			hi, _ := bits.Sub64(ah, bh, b)
			return mkDec(neg, hi, lo, places)
		}
	}
	// A coefficient beyond 128 bits: exact in big.Int, and out of range
	// unless trailing fractional zeros can go.
	x, sx := d.toBig()
	y, sy := e.toBig()
	x.Mul(x, pow10Big(int(places)-sx))
	y.Mul(y, pow10Big(int(places)-sy))
	r, err := fromBig(x.Add(x, y), int(places), false)
	if err != nil {
		panic(newDecimalErr(op, d.String()+sep+e.asWritten(op).String(), err.Error()))
	}
	return r
}

// asWritten returns the second operand of op as the caller passed it,
// for a panic message (Sub flipped its sign).
func (d Decimal) asWritten(op string) Decimal {
	if op == "sub" {
		return d.Neg()
	}
	return d
}

// scale128 returns (hi,lo)×10^n (n ≤ 19); ok is false if that does not
// fit in 128 bits.
func scale128(hi, lo uint64, n uint8) (uint64, uint64, bool) {
	w2, w1, w0 := mul128x64(hi, lo, pow10u64[n])
	return w1, w0, w2 == 0
}

// Mul returns d × e. If the exact product needs more than 19 fractional
// digits the result is an error wrapping ErrDecimal (use MulRound to round
// on purpose); so is a product out of range (see Decimal).
func (d Decimal) Mul(e Decimal) (Decimal, error) {
	a, b := d.trim(), e.trim()
	if a.hi|b.hi == 0 && a.places+b.places <= MaxDecimalPlaces {
		hi, lo := bits.Mul64(a.lo, b.lo)
		return mkDec(a.neg != b.neg, hi, lo, a.places+b.places).trim(), nil
	}
	ca, sa := a.toBig()
	cb, sb := b.toBig()
	p, err := fromBig(ca.Mul(ca, cb), sa+sb, true)
	if err != nil {
		return Decimal{}, decimalErr("mul", d.String()+" * "+e.String(), err.Error())
	}
	return p, nil
}

// Div returns d / e when the quotient terminates within 19 fractional
// digits; otherwise (1/3) an error wrapping ErrDecimal. Division by zero
// and a quotient out of range (see Decimal) are errors too. Use DivRound
// to round on purpose.
func (d Decimal) Div(e Decimal) (Decimal, error) {
	if e.IsZero() {
		return Decimal{}, decimalErr("div", d.String()+" / 0", "division by zero")
	}
	q, err := d.u().Div(e.u()) // truncates toward zero at 19 places
	if err == nil {
		// q = trunc(d/e) so |q×e| <= |d|, and udecimal's Mul truncates
		// toward zero too: q×e == d after truncation only if exactly.
		if back := q.Mul(e.u()); back.Cmp(d.u()) == 0 {
			r, err := fromU(q)
			if err != nil {
				return Decimal{}, decimalErr("div", d.String()+" / "+e.String(), err.Error())
			}
			return r, nil
		}
	}
	return Decimal{}, decimalErr("div", d.String()+" / "+e.String(),
		"quotient does not terminate within 19 fractional digits (use DivRound)")
}

// Round returns d rounded to places fractional digits, half to even
// (banker's rounding), without trailing fractional zeros. places above
// 19 leave the value unchanged.
func (d Decimal) Round(places uint8) Decimal {
	if places >= d.places {
		return d.trim()
	}
	f := pow10u64[d.places-places]
	qh, rh := bits.Div64(0, d.hi, f)
	ql, r := bits.Div64(rh, d.lo, f)
	if half := f / 2; r > half || (r == half && ql&1 == 1) {
		var c uint64
		ql, c = bits.Add64(ql, 1, 0)
		qh += c // no overflow: the quotient is at most (2^128-1)/10
	}
	return mkDec(d.neg, qh, ql, places).trim()
}

// MulRound returns d × e rounded to places (≤ 19) fractional digits, half
// to even. The error wraps ErrDecimal.
func (d Decimal) MulRound(e Decimal, places uint8) (Decimal, error) {
	if places > MaxDecimalPlaces {
		return Decimal{}, decimalErr("mul", d.String()+" * "+e.String(), "places above 19")
	}
	ca, sa := d.toBig()
	cb, sb := e.toBig()
	num := ca.Mul(ca, cb)
	scale := sa + sb
	return roundQuo(num, big.NewInt(1), scale, int(places))
}

// DivRound returns d / e rounded to places (≤ 19) fractional digits, half
// to even. Division by zero is an error wrapping ErrDecimal.
func (d Decimal) DivRound(e Decimal, places uint8) (Decimal, error) {
	if e.IsZero() {
		return Decimal{}, decimalErr("div", d.String()+" / 0", "division by zero")
	}
	if places > MaxDecimalPlaces {
		return Decimal{}, decimalErr("div", d.String()+" / "+e.String(), "places above 19")
	}
	ca, sa := d.toBig()
	cb, sb := e.toBig()
	// d/e = (ca/cb) × 10^(sb-sa)
	return roundQuo(ca, cb, sa-sb, int(places))
}

// roundQuo returns (num/den) × 10^-scale rounded half-even to places.
func roundQuo(num, den *big.Int, scale, places int) (Decimal, error) {
	// value × 10^places = num × 10^(places-scale) / den
	k := places - scale
	if k >= 0 {
		num = new(big.Int).Mul(num, pow10Big(k))
	} else {
		den = new(big.Int).Mul(den, pow10Big(-k))
	}
	if den.Sign() < 0 {
		num = new(big.Int).Neg(num)
		den = new(big.Int).Neg(den)
	}
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		r2 := new(big.Int).Abs(r)
		r2.Lsh(r2, 1)
		c := r2.Cmp(den)
		if c > 0 || (c == 0 && q.Bit(0) == 1) {
			if num.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	out, err := fromBig(q, places, true)
	if err != nil {
		return Decimal{}, decimalErr("round", q.String(), err.Error())
	}
	return out, nil
}

func pow10Big(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// toBig returns d's signed coefficient and its places.
func (d Decimal) toBig() (*big.Int, int) {
	c := new(big.Int).SetUint64(d.hi)
	c.Lsh(c, 64)
	c.Or(c, new(big.Int).SetUint64(d.lo))
	if d.neg {
		c.Neg(c)
	}
	return c, int(d.places)
}

// fromBig builds coef × 10^-scale (scale ≥ 0). With trim it drops every
// trailing fractional zero; without, only as many as needed to fit. It
// fails (without rounding) when more than 19 fractional digits remain or
// the coefficient does not fit in 128 bits.
func fromBig(coef *big.Int, scale int, trim bool) (Decimal, error) {
	if coef.Sign() == 0 {
		return Decimal{}, nil
	}
	abs := new(big.Int).Abs(coef)
	ten := big.NewInt(10)
	q, r := new(big.Int), new(big.Int)
	for scale > 0 && (trim || scale > MaxDecimalPlaces || abs.BitLen() > 128) {
		q.QuoRem(abs, ten, r)
		if r.Sign() != 0 {
			break
		}
		abs, q = q, abs
		scale--
	}
	if scale > MaxDecimalPlaces {
		return Decimal{}, errors.New("exact result needs more than 19 fractional digits (use MulRound)")
	}
	if abs.BitLen() > 128 {
		return Decimal{}, errors.New(reasonRange)
	}
	lo := new(big.Int).And(abs, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(abs, 64).Uint64()
	return mkDec(coef.Sign() < 0, hi, lo, uint8(scale)), nil
}

// u returns d as a udecimal.Decimal (for the operations delegated to
// it).
func (d Decimal) u() udecimal.Decimal {
	v, err := udecimal.NewFromHiLo(d.neg, d.hi, d.lo, d.places)
	if err != nil {
		panic("tradebus: Decimal with more than 19 places") // places ≤ 19 always
	}
	return v
}

// fromU returns v, without trailing fractional zeros, as a Decimal; the
// error is that of fromBig when its coefficient does not fit.
func fromU(v udecimal.Decimal) (Decimal, error) {
	if neg, hi, lo, prec, ok := v.ToHiLo(); ok && prec <= MaxDecimalPlaces {
		return mkDec(neg, hi, lo, prec).trim(), nil
	}
	s, scale := v.String(), 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, scale = s[:i]+s[i+1:], len(s)-i-1
	}
	c, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return Decimal{}, errors.New("unexpected text from udecimal: " + v.String())
	}
	return fromBig(c, scale, true)
}

// trim drops trailing fractional zeros (1.500 -> 1.5).
func (d Decimal) trim() Decimal {
	if d.places == 0 {
		return d
	}
	if d.hi == 0 {
		for d.places > 0 && d.lo%10 == 0 && d.lo != 0 {
			d.lo /= 10
			d.places--
		}
		return d
	}
	for d.places > 0 {
		qh, rh := d.hi/10, d.hi%10
		ql, r := bits.Div64(rh, d.lo, 10)
		if r != 0 {
			break
		}
		d.hi, d.lo = qh, ql
		d.places--
	}
	return d
}

// appendCanonical appends the canonical text form of d.
func (d Decimal) appendCanonical(b []byte) []byte {
	d = d.trim()
	var buf [40]byte
	digits := coefDigits(&buf, d.hi, d.lo)
	if d.neg {
		b = append(b, '-')
	}
	p := int(d.places)
	switch {
	case p == 0:
		return append(b, digits...)
	case len(digits) > p:
		b = append(b, digits[:len(digits)-p]...)
		b = append(b, '.')
		return append(b, digits[len(digits)-p:]...)
	}
	b = append(b, "0.000000000000000000"[:2+p-len(digits)]...)
	return append(b, digits...)
}

// coefDigits writes the decimal digits of hi×2^64+lo (at least one) at
// the end of buf and returns them.
func coefDigits(buf *[40]byte, hi, lo uint64) []byte {
	const e19 = 10_000_000_000_000_000_000
	i := len(buf)
	for hi != 0 {
		// Split off the 19 lowest digits: (hi,lo) = q×10^19 + r.
		qh, rh := bits.Div64(0, hi, e19)
		ql, r := bits.Div64(rh, lo, e19)
		for k := 0; k < 19; k++ {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
		hi, lo = qh, ql
	}
	for {
		i--
		buf[i] = byte('0' + lo%10)
		if lo /= 10; lo == 0 {
			break
		}
	}
	return buf[i:]
}

// MarshalText implements encoding.TextMarshaler with the canonical form
// (MarshalJSON writes the same text as a JSON string). It never fails:
// the text of every Decimal parses back to it.
func (d Decimal) MarshalText() ([]byte, error) {
	return d.AppendText(make([]byte, 0, 24))
}

// AppendText implements encoding.TextAppender: it appends the canonical
// form to b (see MarshalText). It never fails.
func (d Decimal) AppendText(b []byte) ([]byte, error) {
	return d.appendCanonical(b), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (see ParseDecimal).
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := parseDecimalBytes(b)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a JSON string, e.g. "123.45".
func (d Decimal) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 26)
	b = append(b, '"')
	b = d.appendCanonical(b)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts only a JSON string holding a decimal ("1.5"). A
// JSON number (1.5) is rejected with an error wrapping ErrDecimal, so that
// no producer can smuggle a float into a price. JSON null leaves d
// unchanged, as encoding/json does for every type.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return decimalErr("json", string(b), "a decimal must be a JSON string, e.g. \"1.5\", not a JSON number")
	}
	inner := b[1 : len(b)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return decimalErr("json", string(b), "malformed JSON string")
		}
		inner = []byte(s)
	}
	return d.UnmarshalText(inner)
}
