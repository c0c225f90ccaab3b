package events

import (
	"errors"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/quagmt/udecimal"
)

// decOf returns the Decimal of a udecimal value with a 128-bit
// coefficient (the tests' bridge to udecimal as a reference).
func decOf(v udecimal.Decimal) Decimal {
	neg, hi, lo, prec, ok := v.ToHiLo()
	if !ok {
		panic("decOf: coefficient beyond 128 bits: " + v.String())
	}
	return mkDec(neg, hi, lo, prec)
}

// ratOf returns the exact value of d, from its fields.
func ratOf(d Decimal) *big.Rat {
	c := new(big.Int).Lsh(new(big.Int).SetUint64(d.hi), 64)
	c.Or(c, new(big.Int).SetUint64(d.lo))
	if d.neg {
		c.Neg(c)
	}
	return new(big.Rat).SetFrac(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.places)), nil))
}

// representable reports whether r is a value a Decimal holds: at most 19
// fractional digits, and a coefficient below 2^128 once trailing
// fractional zeros are dropped.
func representable(r *big.Rat) bool {
	n := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil)))
	if !n.IsInt() {
		return false
	}
	c := new(big.Int).Abs(n.Num())
	ten, m := big.NewInt(10), new(big.Int)
	for scale := 19; scale > 0 && c.Sign() != 0; scale-- {
		q, rem := new(big.Int).QuoRem(c, ten, m)
		if rem.Sign() != 0 {
			break
		}
		c = q
	}
	return c.BitLen() <= 128
}

// decArgs builds a Decimal from fuzzer arguments: hi is cut to the
// number of bits in hiBits%65 so that small, 64-bit and full 128-bit
// coefficients are all common; places is taken modulo 20.
func decArgs(neg bool, hi, lo uint64, hiBits, places uint8) Decimal {
	if n := hiBits % 65; n < 64 {
		hi &= 1<<n - 1
	}
	return mkDec(neg, hi, lo, places%20)
}

// FuzzDecimalArith holds the arithmetic, comparison and text form to an
// exact reference (big.Rat): Add, Sub, Mul and Div return the exact value
// when it is representable and otherwise panic (Add, Sub) or fail with
// ErrDecimal; Round, MulRound and DivRound round half to even; String is
// canonical and parses back; Cmp is the order of the exact values.
func FuzzDecimalArith(f *testing.F) {
	f.Add(false, uint64(0), uint64(6500012), uint8(0), uint8(2), true, uint64(0), uint64(15), uint8(0), uint8(3), uint8(1))
	f.Add(false, uint64(1<<64-1), uint64(1<<64-1), uint8(64), uint8(0), false, uint64(0), uint64(1), uint8(0), uint8(0), uint8(0))
	f.Add(true, uint64(5), uint64(77), uint8(64), uint8(19), false, uint64(3), uint64(1), uint8(2), uint8(19), uint8(18))
	f.Add(false, uint64(0), uint64(25), uint8(0), uint8(1), false, uint64(0), uint64(0), uint8(0), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, an bool, ah, al uint64, abits, ap uint8, bn bool, bh, bl uint64, bbits, bp, round uint8) {
		a, b := decArgs(an, ah, al, abits, ap), decArgs(bn, bh, bl, bbits, bp)
		ra, rb := ratOf(a), ratOf(b)
		if got, want := a.Cmp(b), ra.Cmp(rb); got != want {
			t.Fatalf("Cmp(%s, %s) = %d, want %d", a, b, got, want)
		}
		if a.Sign() != ra.Sign() || a.IsZero() != (ra.Sign() == 0) || a.IsNegative() != (ra.Sign() < 0) || a.IsPositive() != (ra.Sign() > 0) {
			t.Fatalf("sign tests of %s", a)
		}
		// String: canonical (no trailing fractional zeros, no "-0") and
		// exact.
		s := a.String()
		if r, ok := new(big.Rat).SetString(s); !ok || r.Cmp(ra) != 0 ||
			(strings.Contains(s, ".") && strings.HasSuffix(s, "0")) || s == "-0" {
			t.Fatalf("String of %#v = %q", a, s)
		}
		if back, err := ParseDecimal(s); err != nil || ratOf(back).Cmp(ra) != 0 {
			t.Fatalf("ParseDecimal(%q) = %#v, %v", s, back, err)
		}
		if n := ratOf(a.Neg()); n.Cmp(new(big.Rat).Neg(ra)) != 0 || ratOf(a.Abs()).Cmp(new(big.Rat).Abs(ra)) != 0 {
			t.Fatalf("Neg/Abs of %s", a)
		}
		check := func(op string, got Decimal, err error, want *big.Rat, places int) {
			t.Helper()
			switch {
			case !representable(want):
				if !errors.Is(err, ErrDecimal) {
					t.Fatalf("%s %s %s = %s, %v; want ErrDecimal (exact %s)", a, op, b, got, err, want.FloatString(25))
				}
			case err != nil:
				t.Fatalf("%s %s %s: %v (exact %s)", a, op, b, err, want.FloatString(25))
			case ratOf(got).Cmp(want) != 0:
				t.Fatalf("%s %s %s = %s, want %s", a, op, b, got, want.FloatString(25))
			case places >= 0 && want.Sign() != 0 && got.Places() != places:
				// Add and Sub keep the larger number of places unless
				// only dropping trailing zeros makes the sum fit.
				if c := ratOf(got); c.Cmp(want) != 0 || fitsAt(want, places) {
					t.Fatalf("%s %s %s = %s with %d places, want %d", a, op, b, got, got.Places(), places)
				}
			}
		}
		recoverAdd := func(f func() Decimal) (d Decimal, err error) {
			defer func() {
				if r := recover(); r != nil {
					e, ok := r.(*DecimalError)
					if !ok {
						panic(r)
					}
					err = e
				}
			}()
			return f(), nil
		}
		pl := int(max(a.places, b.places))
		sum, err := recoverAdd(func() Decimal { return a.Add(b) })
		check("+", sum, err, new(big.Rat).Add(ra, rb), pl)
		diff, err := recoverAdd(func() Decimal { return a.Sub(b) })
		check("-", diff, err, new(big.Rat).Sub(ra, rb), pl)
		prod, err := a.Mul(b)
		check("*", prod, err, new(big.Rat).Mul(ra, rb), -1)
		if rb.Sign() != 0 {
			q, err := a.Div(b)
			check("/", q, err, new(big.Rat).Quo(ra, rb), -1)
			places := round % 20
			q, err = a.DivRound(b, places)
			check("/~", q, err, roundRat(new(big.Rat).Quo(ra, rb), int(places)), -1)
		} else if _, err := a.Div(b); !errors.Is(err, ErrDecimal) {
			t.Fatalf("%s / 0: %v", a, err)
		}
		places := round % 20
		p, err := a.MulRound(b, places)
		check("*~", p, err, roundRat(new(big.Rat).Mul(ra, rb), int(places)), -1)
		r := a.Round(round)
		want := ra
		if round <= MaxDecimalPlaces {
			want = roundRat(ra, int(round))
		}
		check("round", r, nil, want, -1)
	})
}

// fitsAt reports whether r has a coefficient below 2^128 at places.
func fitsAt(r *big.Rat, places int) bool {
	n := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)))
	return n.IsInt() && new(big.Int).Abs(n.Num()).BitLen() <= 128
}

// roundRat rounds r to places fractional digits, half to even.
func roundRat(r *big.Rat, places int) *big.Rat {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	n := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	q, m := new(big.Int).QuoRem(n.Num(), n.Denom(), new(big.Int)) // truncated toward zero
	twice := new(big.Int).Abs(m)
	twice.Lsh(twice, 1)
	if c := twice.Cmp(n.Denom()); c > 0 || (c == 0 && q.Bit(0) == 1) {
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return new(big.Rat).SetFrac(q, scale)
}

// syntaxRef is the text ParseDecimal documents.
var syntaxRef = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]{1,19})?$`)

// FuzzParseDecimalRef: ParseDecimal accepts exactly the documented syntax
// (at most 64 characters) for values in range, with the exact value and
// the places as written (unless dropping trailing zeros is what makes it
// fit); udecimal's parser agrees on every string it reads into 128 bits.
func FuzzParseDecimalRef(f *testing.F) {
	for _, s := range []string{"0", "-0", "+1.50", "007", "00.5", "1.", ".5", "-.5", "1e5", "-+5", "+-5",
		"340282366920938463463374607431768211455", "340282366920938463463374607431768211456",
		"340282366920938463463374607431768211455.000", "34028236692093846346.3374607431768211455",
		"0.00000000000000000001", "1.1234567890123456789"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDecimal(s)
		if err != nil && !errors.Is(err, ErrDecimal) {
			t.Fatalf("%q: %v does not wrap ErrDecimal", s, err)
		}
		var want *big.Rat
		if len(s) <= maxDecimalText && syntaxRef.MatchString(s) {
			want, _ = new(big.Rat).SetString(s)
		}
		switch {
		case want == nil || !representable(want):
			if err == nil {
				t.Fatalf("ParseDecimal(%q) = %#v, want an error", s, got)
			}
			return
		case err != nil:
			t.Fatalf("ParseDecimal(%q): %v", s, err)
		case ratOf(got).Cmp(want) != 0:
			t.Fatalf("ParseDecimal(%q) = %s", s, got)
		}
		written := 0
		if i := strings.IndexByte(s, '.'); i >= 0 {
			written = len(s) - i - 1
		}
		if want.Sign() == 0 {
			written = 0
		}
		if got.Places() != written && fitsAt(want, written) {
			t.Fatalf("ParseDecimal(%q) has %d places", s, got.Places())
		}
		if u, err := udecimal.Parse(s); err == nil {
			if _, _, _, _, ok := u.ToHiLo(); ok && !reflect.DeepEqual(got, decOf(u)) {
				t.Fatalf("ParseDecimal(%q) = %#v, udecimal %#v", s, got, u)
			}
		}
	})
}

// TestDecimalHoldsNoPointer: a Decimal is 24 bytes of plain values, so a
// PriceLevel is 48 and an array of levels is memory the garbage collector
// does not scan (README, Benchmarks).
func TestDecimalHoldsNoPointer(t *testing.T) {
	typ := reflect.TypeFor[Decimal]()
	for i := range typ.NumField() {
		switch f := typ.Field(i); f.Type.Kind() {
		case reflect.Uint64, reflect.Uint8, reflect.Bool:
		default:
			t.Errorf("Decimal field %s is a %s", f.Name, f.Type)
		}
	}
	if s := unsafe.Sizeof(Decimal{}); s != 24 {
		t.Errorf("Decimal is %d bytes", s)
	}
	if s := unsafe.Sizeof(PriceLevel{}); s != 48 {
		t.Errorf("PriceLevel is %d bytes", s)
	}
}
