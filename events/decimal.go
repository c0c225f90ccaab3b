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
// can be represented, an inexact or overflowing operation, division by zero,
// or a JSON number where a decimal string was expected.
var ErrDecimal = errors.New("tradebus: invalid decimal")

// MaxDecimalPlaces is the largest number of digits after the decimal point
// a Decimal holds. A value with more places is rejected, never rounded.
const MaxDecimalPlaces = 19

// maxDecimalText is the longest text form ParseDecimal accepts (the limit
// of the underlying library). MarshalText refuses to produce a longer one,
// so that everything a Decimal encodes can be decoded again.
const maxDecimalText = 200

// DecimalError names the input or operation that failed and why. It
// matches ErrDecimal with errors.Is.
type DecimalError struct {
	Op     string // "parse", "mul", "div", "json", ...
	Input  string // the offending text or operands, shortened to 64 bytes
	Reason string
}

func (e *DecimalError) Error() string {
	return fmt.Sprintf("tradebus: decimal %s %q: %s", e.Op, e.Input, e.Reason)
}

// Unwrap returns ErrDecimal.
func (e *DecimalError) Unwrap() error { return ErrDecimal }

func decimalErr(op, input, reason string) error {
	if len(input) > 64 {
		input = input[:61] + "..."
	}
	return &DecimalError{Op: op, Input: input, Reason: reason}
}

// Decimal is an exact signed decimal number for every price, quantity,
// amount and fee in tradebus. It is backed by github.com/quagmt/udecimal:
// a 128-bit coefficient (falling back to big.Int only for very large
// integer parts) and at most MaxDecimalPlaces (19) fractional digits.
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
//   - Add, Sub, Neg and Abs are always exact.
//   - String and MarshalText write the canonical form: no exponent, no
//     trailing fractional zeros, "0" for zero. Equal values compare equal
//     with Cmp/Equal even when their text differs ("1.50" and "1.5"); do
//     not compare Decimals with ==.
//
// The zero value is 0. A Decimal is an immutable value, safe for
// concurrent use.
type Decimal struct {
	d udecimal.Decimal
}

// Handy constants.
var (
	decimalOne = Decimal{d: udecimal.One}
)

// parseSmallDecimal parses the common short form — unsigned digits
// without a leading zero (or a single "0"), optionally '.' and 1 to 19
// digits, at most 19 digits in all — into the value udecimal's parser
// returns for it (coefficient and places as written). It reports !ok for
// anything else, which the caller hands to udecimal. It exists because
// udecimal's parser has a large stack frame: on the fresh goroutine the
// Watermill router starts per message, parsing a price grew the stack.
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
	v, err := udecimal.NewFromUint64(coef, uint8(places))
	if err != nil {
		return Decimal{}, false
	}
	return Decimal{d: v}, true
}

// ParseDecimal parses s ("-12.5", "0.000000000000000001"). It accepts an
// optional sign, digits, and an optional '.' followed by 1 to 19 digits;
// no exponent, no spaces. The error wraps ErrDecimal.
func ParseDecimal(s string) (Decimal, error) {
	if d, ok := parseSmallDecimal(s); ok {
		return d, nil
	}
	v, err := udecimal.Parse(s)
	if err != nil {
		return Decimal{}, decimalErr("parse", s, parseReason(err))
	}
	return Decimal{d: v}, nil
}

func parseDecimalBytes(b []byte) (Decimal, error) {
	if d, ok := parseSmallDecimal(b); ok {
		return d, nil
	}
	var v udecimal.Decimal
	if err := v.UnmarshalText(b); err != nil {
		return Decimal{}, decimalErr("parse", string(b), parseReason(err))
	}
	return Decimal{d: v}, nil
}

func parseReason(err error) string {
	switch {
	case errors.Is(err, udecimal.ErrPrecOutOfRange):
		return "more than 19 digits after the decimal point cannot be represented exactly"
	case errors.Is(err, udecimal.ErrEmptyString):
		return "empty string"
	case errors.Is(err, udecimal.ErrMaxStrLen):
		return "longer than 200 characters"
	default:
		return "not a decimal number (want [+-]digits[.digits], no exponent)"
	}
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
	return Decimal{d: udecimal.MustFromInt64(v, 0)}
}

// NewDecimalFromScaled returns unscaled × 10^-scale, e.g. (12345, 2) is
// 123.45. scale above MaxDecimalPlaces is an error wrapping ErrDecimal.
func NewDecimalFromScaled(unscaled int64, scale uint8) (Decimal, error) {
	d, err := udecimal.NewFromInt64(unscaled, scale)
	if err != nil {
		return Decimal{}, decimalErr("scaled", fmt.Sprintf("%d e-%d", unscaled, scale), "scale above 19")
	}
	return Decimal{d: d}, nil
}

// String returns the canonical text form (see Decimal).
func (d Decimal) String() string { return d.d.String() }

// Places returns the number of fractional digits d carries (trailing zeros
// included, e.g. 2 for a value parsed from "1.50").
func (d Decimal) Places() int { return d.d.Prec() }

// Cmp returns -1, 0 or +1 when d is less than, equal to or greater than e.
func (d Decimal) Cmp(e Decimal) int {
	// Two coefficients of at most 64 bits with the same sign (prices and
	// amounts, nearly always) are compared here, exactly; the library
	// handles the rest.
	dn, dh, dl, dp, dok := d.d.ToHiLo()
	en, eh, el, ep, eok := e.d.ToHiLo()
	if !dok || !eok || dh != 0 || eh != 0 || dn != en || dp > MaxDecimalPlaces || ep > MaxDecimalPlaces {
		return d.d.Cmp(e.d)
	}
	c := cmpScaled(dl, dp, el, ep)
	if dn {
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
	case d.IsPositive():
		return 1
	case d.IsNegative():
		return -1
	}
	return 0
}

// The sign tests below read a 128-bit coefficient directly (validation
// calls them for every decimal of every event); a big one is left to the
// library. A zero coefficient is zero whatever its sign flag.

// IsZero reports whether d == 0. JSON fields tagged omitzero use it.
func (d Decimal) IsZero() bool {
	if _, hi, lo, _, ok := d.d.ToHiLo(); ok {
		return hi|lo == 0
	}
	return d.d.IsZero()
}

// IsPositive reports whether d > 0.
func (d Decimal) IsPositive() bool {
	if neg, hi, lo, _, ok := d.d.ToHiLo(); ok {
		return !neg && hi|lo != 0
	}
	return d.d.IsPos()
}

// IsNegative reports whether d < 0.
func (d Decimal) IsNegative() bool {
	if neg, hi, lo, _, ok := d.d.ToHiLo(); ok {
		return neg && hi|lo != 0
	}
	return d.d.IsNeg()
}

// Neg returns -d.
func (d Decimal) Neg() Decimal { return Decimal{d: d.d.Neg()} }

// Abs returns |d|.
func (d Decimal) Abs() Decimal { return Decimal{d: d.d.Abs()} }

// Add returns d + e, exactly.
func (d Decimal) Add(e Decimal) Decimal { return Decimal{d: d.d.Add(e.d)} }

// Sub returns d - e, exactly.
func (d Decimal) Sub(e Decimal) Decimal { return Decimal{d: d.d.Sub(e.d)} }

// Mul returns d × e. If the exact product needs more than 19 fractional
// digits the result is an error wrapping ErrDecimal (use MulRound to round
// on purpose).
func (d Decimal) Mul(e Decimal) (Decimal, error) {
	a, b := trim(d.d), trim(e.d)
	if int(a.PrecUint())+int(b.PrecUint()) <= MaxDecimalPlaces {
		// udecimal multiplies exactly when the scales fit.
		return Decimal{d: trim(a.Mul(b))}, nil
	}
	ca, sa := toBig(a)
	cb, sb := toBig(b)
	p, err := fromBig(ca.Mul(ca, cb), sa+sb)
	if err != nil {
		return Decimal{}, decimalErr("mul", d.String()+" * "+e.String(), err.Error())
	}
	return p, nil
}

// Div returns d / e when the quotient terminates within 19 fractional
// digits; otherwise (1/3) an error wrapping ErrDecimal. Division by zero is
// an error too. Use DivRound to round on purpose.
func (d Decimal) Div(e Decimal) (Decimal, error) {
	if e.IsZero() {
		return Decimal{}, decimalErr("div", d.String()+" / 0", "division by zero")
	}
	q, err := d.d.Div(e.d) // truncates toward zero at 19 places
	if err == nil {
		// q = trunc(d/e) so |q×e| <= |d|, and udecimal's Mul truncates
		// toward zero too: q×e == d after truncation only if exactly.
		if back := q.Mul(e.d); back.Cmp(d.d) == 0 {
			return Decimal{d: trim(q)}, nil
		}
	}
	return Decimal{}, decimalErr("div", d.String()+" / "+e.String(),
		"quotient does not terminate within 19 fractional digits (use DivRound)")
}

// Round returns d rounded to places fractional digits, half to even
// (banker's rounding). places above 19 leave d unchanged.
func (d Decimal) Round(places uint8) Decimal {
	return Decimal{d: trim(d.d.RoundBank(places))}
}

// MulRound returns d × e rounded to places (≤ 19) fractional digits, half
// to even. The error wraps ErrDecimal.
func (d Decimal) MulRound(e Decimal, places uint8) (Decimal, error) {
	if places > MaxDecimalPlaces {
		return Decimal{}, decimalErr("mul", d.String()+" * "+e.String(), "places above 19")
	}
	ca, sa := toBig(d.d)
	cb, sb := toBig(e.d)
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
	ca, sa := toBig(d.d)
	cb, sb := toBig(e.d)
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
	out, err := fromBig(q, places)
	if err != nil {
		return Decimal{}, decimalErr("round", q.String(), err.Error())
	}
	return out, nil
}

func pow10Big(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// toBig returns d's signed coefficient and scale.
func toBig(d udecimal.Decimal) (*big.Int, int) {
	neg, hi, lo, prec, ok := d.ToHiLo()
	var c *big.Int
	if ok {
		c = new(big.Int).SetUint64(hi)
		c.Lsh(c, 64)
		c.Or(c, new(big.Int).SetUint64(lo))
		if neg {
			c.Neg(c)
		}
		return c, int(prec)
	}
	s := d.String()
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
		s = s[:i] + s[i+1:]
	}
	c, _ = new(big.Int).SetString(s, 10)
	return c, scale
}

// fromBig builds coef × 10^-scale, dropping trailing fractional zeros; it
// fails (without rounding) when more than 19 fractional digits remain.
func fromBig(coef *big.Int, scale int) (Decimal, error) {
	ten := big.NewInt(10)
	if coef.Sign() == 0 {
		return Decimal{}, nil
	}
	if scale < 0 {
		coef = new(big.Int).Mul(coef, pow10Big(-scale))
		scale = 0
	}
	q, r := new(big.Int), new(big.Int)
	for scale > 0 {
		q.QuoRem(coef, ten, r)
		if r.Sign() != 0 {
			break
		}
		coef = new(big.Int).Set(q)
		scale--
	}
	if scale > MaxDecimalPlaces {
		return Decimal{}, errors.New("exact result needs more than 19 fractional digits (use MulRound)")
	}
	neg := coef.Sign() < 0
	abs := new(big.Int).Abs(coef)
	if abs.BitLen() <= 128 {
		lo := new(big.Int).And(abs, new(big.Int).SetUint64(^uint64(0))).Uint64()
		hi := new(big.Int).Rsh(abs, 64).Uint64()
		d, err := udecimal.NewFromHiLo(neg, hi, lo, uint8(scale))
		if err != nil {
			return Decimal{}, err
		}
		return Decimal{d: d}, nil
	}
	s := abs.String()
	if scale > 0 {
		for len(s) <= scale {
			s = "0" + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	d, err := udecimal.Parse(s)
	if err != nil {
		return Decimal{}, errors.New("result too large")
	}
	return Decimal{d: d}, nil
}

// trim drops trailing fractional zeros (1.500 -> 1.5) without allocating
// for values with a 128-bit coefficient.
func trim(d udecimal.Decimal) udecimal.Decimal {
	neg, hi, lo, prec, ok := d.ToHiLo()
	if !ok || prec == 0 {
		return d
	}
	p := prec
	for p > 0 {
		qh, rh := hi/10, hi%10
		ql, r := bits.Div64(rh, lo, 10)
		if r != 0 {
			break
		}
		hi, lo = qh, ql
		p--
	}
	if p == prec {
		return d
	}
	out, err := udecimal.NewFromHiLo(neg, hi, lo, p)
	if err != nil {
		return d
	}
	return out
}

// MarshalText implements encoding.TextMarshaler with the canonical form
// (MarshalJSON writes the same text as a JSON string). It fails only for a
// result of arithmetic too long for ParseDecimal (over 200 characters), so
// that whatever is encoded can be decoded again.
func (d Decimal) MarshalText() ([]byte, error) {
	return d.AppendText(make([]byte, 0, 24))
}

// AppendText implements encoding.TextAppender: it appends the canonical
// form to b (see MarshalText).
func (d Decimal) AppendText(b []byte) ([]byte, error) {
	n := len(b)
	b, err := d.d.AppendText(b)
	if err != nil {
		return b[:n], decimalErr("text", d.String(), err.Error())
	}
	if len(b)-n > maxDecimalText {
		return b[:n], decimalErr("text", string(b[n:]), "longer than 200 characters")
	}
	return b, nil
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
	b, err := d.AppendText(b)
	if err != nil {
		return nil, err
	}
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
