package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tradebus/tradebus/events"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in, want string // want "" = error
	}{
		{"0", "0"},
		{"-0", "0"},
		{"0.000000000000000001", "0.000000000000000001"},
		{"123456789.123456789012345678", "123456789.123456789012345678"},
		{"0.0000000000000000001", "0.0000000000000000001"}, // 19 places
		{"-65000.120", "-65000.12"},
		{"+1.5", "1.5"},
		{"007", "7"},
		{"1.50", "1.5"},
		// The range: a coefficient (digits without the point, trailing
		// fractional zeros dropped) below 2^128.
		{"340282366920938463463374607431768211455", "340282366920938463463374607431768211455"},   // 2^128-1
		{"-340282366920938463463374607431768211455", "-340282366920938463463374607431768211455"}, // -(2^128-1)
		{"34028236692093846346.3374607431768211455", "34028236692093846346.3374607431768211455"}, // 19 places
		{"340282366920938463463374607431768211455.0000", "340282366920938463463374607431768211455"},
		{"99999999999999999999999999999999999999", "99999999999999999999999999999999999999"}, // 38 digits
		{"9999999999999999999.9999999999999999999", "9999999999999999999.9999999999999999999"},
		{strings.Repeat("0", 61) + "1.5", "1.5"},        // 64 characters
		{"340282366920938463463374607431768211456", ""}, // 2^128
		{"-340282366920938463463374607431768211456", ""},
		{"34028236692093846346.3374607431768211456", ""},
		{"999999999999999999999999999999999999999", ""}, // 39 nines
		{"99999999999999999999999999999999999999999.9999999999999999999", ""},
		{strings.Repeat("0", 62) + "1.5", ""}, // 65 characters
		{"0.00000000000000000001", ""},        // 20 places
		{"1.12345678901234567890", ""},
		{"", ""},
		{"-", ""},
		{"+", ""},
		{".5", ""},
		{"5.", ""},
		{"-.5", ""},
		{"1e5", ""},
		{"1E-2", ""},
		{"0x10", ""},
		{" 1", ""},
		{"1 ", ""},
		{"1,5", ""},
		{"1.2.3", ""},
		{"--1", ""},
		{"NaN", ""},
		{"Infinity", ""},
		{strings.Repeat("9", 201), ""},
	}
	for _, tc := range tests {
		got, err := events.ParseDecimal(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseDecimal(%q) = %s, want error", tc.in, got)
				continue
			}
			var de *events.DecimalError
			if !errors.Is(err, events.ErrDecimal) || !errors.As(err, &de) || de.Reason == "" {
				t.Errorf("ParseDecimal(%q): %v is not a *DecimalError wrapping ErrDecimal", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ParseDecimal(%q) = %s, want %s", tc.in, got, tc.want)
		}
		// Round trip through text and JSON is exact.
		txt, err := got.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back events.Decimal
		if err := back.UnmarshalText(txt); err != nil || !back.Equal(got) {
			t.Errorf("text round trip of %s: %s, %v", got, back, err)
		}
		js, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if string(js) != `"`+tc.want+`"` {
			t.Errorf("json.Marshal(%s) = %s", got, js)
		}
		var back2 events.Decimal
		if err := json.Unmarshal(js, &back2); err != nil || !back2.Equal(got) {
			t.Errorf("JSON round trip of %s: %s, %v", got, back2, err)
		}
	}
}

func TestParseDecimalTwentyPlacesIsAnError(t *testing.T) {
	_, err := events.ParseDecimal("0.12345678901234567891")
	var de *events.DecimalError
	if !errors.As(err, &de) || de.Op != "parse" || !strings.Contains(de.Reason, "19") {
		t.Fatalf("want a clear precision error, got %v", err)
	}
}

func TestDecimalZeroValue(t *testing.T) {
	var z events.Decimal
	if !z.IsZero() || z.Sign() != 0 || z.String() != "0" || z.IsPositive() || z.IsNegative() {
		t.Fatalf("zero value is not 0: %s", z)
	}
	if !z.Equal(events.NewDecimalFromInt(0)) || !z.Equal(d("0.000")) {
		t.Fatal("zero value differs from parsed zero")
	}
}

func TestDecimalJSONRejectsNumbers(t *testing.T) {
	var v struct {
		P events.Decimal `json:"p"`
	}
	tests := []struct {
		in         string
		decimalErr bool // the error names the decimal problem (ErrDecimal)
	}{
		{`{"p":1.5}`, true},
		{`{"p":1}`, true},
		{`{"p":-0.1}`, true},
		{`{"p":"1e3"}`, true},
		{`{"p":""}`, true},
		{`{"p":"1.5 "}`, true},
		{`{"p":true}`, true},
		{`{"p":["1"]}`, false},
		{`{"p":{}}`, false},
		{`{"p":"1.5"`, false},
	}
	for _, tc := range tests {
		err := json.Unmarshal([]byte(tc.in), &v)
		if err == nil {
			t.Errorf("json.Unmarshal(%s) accepted", tc.in)
			continue
		}
		if tc.decimalErr && !errors.Is(err, events.ErrDecimal) {
			t.Errorf("json.Unmarshal(%s): %v does not wrap ErrDecimal", tc.in, err)
		}
	}
	// null leaves the value alone; escaped strings are decoded properly.
	v.P = d("2")
	if err := json.Unmarshal([]byte(`{"p":null}`), &v); err != nil || !v.P.Equal(d("2")) {
		t.Errorf("null: %v %s", err, v.P)
	}
	if err := json.Unmarshal([]byte(`{"p":"\u0031.5"}`), &v); err != nil || !v.P.Equal(d("1.5")) {
		t.Errorf("escaped: %v %s", err, v.P)
	}
}

func TestDecimalConstructors(t *testing.T) {
	if got := events.NewDecimalFromInt(-42); got.String() != "-42" {
		t.Errorf("NewDecimalFromInt = %s", got)
	}
	if got, err := events.NewDecimalFromScaled(12345, 2); err != nil || got.String() != "123.45" {
		t.Errorf("NewDecimalFromScaled = %s, %v", got, err)
	}
	if got, err := events.NewDecimalFromScaled(-1, 19); err != nil || got.String() != "-0.0000000000000000001" {
		t.Errorf("NewDecimalFromScaled = %s, %v", got, err)
	}
	if _, err := events.NewDecimalFromScaled(1, 20); !errors.Is(err, events.ErrDecimal) {
		t.Errorf("scale 20: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustDecimal did not panic")
		}
	}()
	events.MustDecimal("x")
}

func TestDecimalArithmetic(t *testing.T) {
	type op func(a, b events.Decimal) (events.Decimal, error)
	add := func(a, b events.Decimal) (events.Decimal, error) { return a.Add(b), nil }
	sub := func(a, b events.Decimal) (events.Decimal, error) { return a.Sub(b), nil }
	mul := events.Decimal.Mul
	div := events.Decimal.Div
	tests := []struct {
		name string
		f    op
		a, b string
		want string // "" = error
	}{
		{"add", add, "0.1", "0.2", "0.3"},
		{"add tiny", add, "123456789.123456789012345678", "0.000000000000000001", "123456789.123456789012345679"},
		{"add neg", add, "-1.5", "0.25", "-1.25"},
		{"add up to the limit", add, "340282366920938463463374607431768211454", "1", "340282366920938463463374607431768211455"},
		{"add across places at the limit", add, "34028236692093846346", "0.3374607431768211455", "34028236692093846346.3374607431768211455"},
		{"sub from the limit", sub, "-340282366920938463463374607431768211454", "1", "-340282366920938463463374607431768211455"},
		{"sub", sub, "65000.12", "65000.12", "0"},
		{"sub to negative", sub, "1", "1.0000000000000000001", "-0.0000000000000000001"},
		{"mul", mul, "65000.5", "0.015", "975.0075"},
		{"mul neg", mul, "-2", "0.5", "-1"},
		{"mul 19 places", mul, "0.0000000001", "0.000000001", "0.0000000000000000001"},
		{"mul trailing zeros fit", mul, "0.5000000000", "0.2000000000", "0.1"},
		{"mul exact after big path", mul, "0.0000000005", "0.0000000002", "0.0000000000000000001"},
		{"mul inexact", mul, "0.0000000001", "0.0000000001", ""},
		{"mul up to the limit", mul, "34028236692093846346337460743176821145.5", "10", "340282366920938463463374607431768211455"},
		{"mul out of range", mul, "340282366920938463463374607431768211455", "10", ""},
		{"mul out of range, small places", mul, "18446744073709551616", "18446744073709551616", ""},
		{"div out of range", div, "340282366920938463463374607431768211455", "0.1", ""},
		{"div to the limit", div, "34028236692093846346337460743176821145.5", "0.1", "340282366920938463463374607431768211455"},
		{"div", div, "1", "8", "0.125"},
		{"div neg", div, "-10", "4", "-2.5"},
		{"div to integer", div, "975.0075", "0.015", "65000.5"},
		{"div 1/3 inexact", div, "1", "3", ""},
		{"div 2/3 inexact", div, "-2", "3", ""},
		{"div by zero", div, "1", "0", ""},
		{"div tiny", div, "0.000000000000000001", "10", "0.0000000000000000001"},
		{"div too tiny", div, "0.0000000000000000001", "10", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f(d(tc.a), d(tc.b))
			if tc.want == "" {
				if err == nil || !errors.Is(err, events.ErrDecimal) {
					t.Fatalf("%s %s: got %s, %v; want ErrDecimal", tc.a, tc.b, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Fatalf("%s, %s = %s, want %s", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestDecimalRounding(t *testing.T) {
	tests := []struct {
		name   string
		got    func() (events.Decimal, error)
		want   string
		wantOK bool
	}{
		{"divround 1/3", func() (events.Decimal, error) { return d("1").DivRound(d("3"), 4) }, "0.3333", true},
		{"divround 2/3", func() (events.Decimal, error) { return d("2").DivRound(d("3"), 4) }, "0.6667", true},
		{"divround -2/3", func() (events.Decimal, error) { return d("-2").DivRound(d("3"), 4) }, "-0.6667", true},
		{"divround 2/-3", func() (events.Decimal, error) { return d("2").DivRound(d("-3"), 4) }, "-0.6667", true},
		{"divround half even down", func() (events.Decimal, error) { return d("1").DivRound(d("8"), 2) }, "0.12", true},
		{"divround half even up", func() (events.Decimal, error) { return d("3").DivRound(d("8"), 2) }, "0.38", true},
		{"divround above half beyond 19 places", func() (events.Decimal, error) {
			// 0.5000000000000000000333... must round up, not to even (0).
			return d("1.5000000000000000001").DivRound(d("3"), 0)
		}, "1", true},
		{"divround 19 places", func() (events.Decimal, error) { return d("2").DivRound(d("3"), 19) }, "0.6666666666666666667", true},
		{"divround by zero", func() (events.Decimal, error) { return d("2").DivRound(events.Decimal{}, 2) }, "", false},
		{"divround 20 places", func() (events.Decimal, error) { return d("2").DivRound(d("3"), 20) }, "", false},
		{"mulround", func() (events.Decimal, error) { return d("0.0000000001").MulRound(d("0.0000000015"), 19) }, "0.0000000000000000002", true},
		{"mulround half even", func() (events.Decimal, error) { return d("0.25").MulRound(d("0.1"), 2) }, "0.02", true},
		{"mulround neg", func() (events.Decimal, error) { return d("-0.35").MulRound(d("0.1"), 2) }, "-0.04", true},
		{"mulround 20 places", func() (events.Decimal, error) { return d("1").MulRound(d("1"), 20) }, "", false},
		{"round", func() (events.Decimal, error) { return d("2.675").Round(2), nil }, "2.68", true},
		{"round even", func() (events.Decimal, error) { return d("2.665").Round(2), nil }, "2.66", true},
		{"round noop", func() (events.Decimal, error) { return d("2.5").Round(5), nil }, "2.5", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if !tc.wantOK {
				if !errors.Is(err, events.ErrDecimal) {
					t.Fatalf("got %s, %v; want ErrDecimal", got, err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestDecimalCompareAndSign(t *testing.T) {
	tests := []struct {
		a, b string
		cmp  int
	}{
		{"1", "1.000", 0},
		{"1.5", "1.50", 0},
		{"-1", "1", -1},
		{"0.0000000000000000001", "0", 1},
		{"-0.0000000000000000001", "0", -1},
		{"340282366920938463463374607431768211455", "340282366920938463463374607431768211454", 1},
		{"-340282366920938463463374607431768211455", "-340282366920938463463374607431768211454", -1},
		{"34028236692093846346337460743176821145.5", "340282366920938463463374607431768211455", -1},
		{"18446744073709551616", "18446744073709551615.9999999999999999999", 1},
	}
	for _, tc := range tests {
		a, b := d(tc.a), d(tc.b)
		if got := a.Cmp(b); got != tc.cmp {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.cmp)
		}
		if got := b.Cmp(a); got != -tc.cmp {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.cmp)
		}
		if a.Equal(b) != (tc.cmp == 0) {
			t.Errorf("Equal(%s, %s) wrong", tc.a, tc.b)
		}
	}
	x := d("-2.5")
	if x.Sign() != -1 || !x.IsNegative() || x.IsPositive() || x.IsZero() {
		t.Error("sign of -2.5")
	}
	if x.Neg().String() != "2.5" || x.Abs().String() != "2.5" || x.Neg().Neg().String() != "-2.5" {
		t.Error("Neg/Abs")
	}
	if d("1.50").Places() != 2 {
		t.Error("Places")
	}
}

// TestDecimalRange: a value or result whose coefficient does not fit in
// 128 bits is an error wrapping ErrDecimal (Parse, Mul, Div, MulRound,
// DivRound) or, for Add and Sub, a panic with such an error; every value
// in range marshals and parses back.
func TestDecimalRange(t *testing.T) {
	maxD := d("340282366920938463463374607431768211455")
	minD := maxD.Neg()
	tiny := d("0.0000000000000000001")
	isRange := func(err error, op string) bool {
		var de *events.DecimalError
		return errors.Is(err, events.ErrDecimal) && errors.As(err, &de) && de.Op == op && strings.Contains(de.Reason, "2^128")
	}
	if _, err := events.ParseDecimal("340282366920938463463374607431768211456"); !isRange(err, "parse") {
		t.Errorf("parse 2^128: %v", err)
	}
	if _, err := maxD.Mul(d("1.1")); !isRange(err, "mul") {
		t.Errorf("mul: %v", err)
	}
	if _, err := maxD.Div(d("0.5")); !isRange(err, "div") {
		t.Errorf("div: %v", err)
	}
	if _, err := maxD.MulRound(d("2"), 0); !errors.Is(err, events.ErrDecimal) {
		t.Errorf("mulround: %v", err)
	}
	if _, err := maxD.DivRound(d("0.5"), 0); !errors.Is(err, events.ErrDecimal) {
		t.Errorf("divround: %v", err)
	}
	mustPanic := func(name, op string, f func() events.Decimal) {
		t.Helper()
		defer func() {
			err, _ := recover().(error)
			if !isRange(err, op) {
				t.Errorf("%s: recovered %v, want a *DecimalError %q out of range", name, err, op)
			}
		}()
		v := f()
		t.Errorf("%s = %s, no panic", name, v)
	}
	mustPanic("max+1", "add", func() events.Decimal { return maxD.Add(d("1")) })
	mustPanic("min-1", "sub", func() events.Decimal { return minD.Sub(d("1")) })
	mustPanic("min+(-1)", "add", func() events.Decimal { return minD.Add(d("-1")) })
	// 20 integer digits plus 19 fractional ones: 39 significant digits.
	mustPanic("1e20+tiny", "add", func() events.Decimal { return d("100000000000000000000").Add(tiny) })
	// Neg and Abs never fail; opposite signs never overflow.
	if got := minD.Abs(); !got.Equal(maxD) || got.String() != maxD.String() {
		t.Errorf("Abs(min) = %s", got)
	}
	if got := maxD.Add(minD); !got.IsZero() {
		t.Errorf("max+min = %s", got)
	}
	mustPanic("max-tiny", "sub", func() events.Decimal { return maxD.Sub(tiny) })
	// Every value in range marshals, within the 41 bytes of the longest
	// canonical form, and parses back.
	for _, v := range []events.Decimal{maxD, minD, tiny.Neg(), d("-34028236692093846346.3374607431768211455")} {
		txt, err := v.MarshalText()
		if err != nil || len(txt) > 41 {
			t.Errorf("MarshalText(%s) = %q, %v", v, txt, err)
		}
		if back, err := events.ParseDecimal(string(txt)); err != nil || !back.Equal(v) {
			t.Errorf("parse back %q: %s, %v", txt, back, err)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.5", "0.000000000000000001", "123456789.123456789012345678",
		"340282366920938463463374607431768211456", "1e5", "", ".5", "-.5", "+7", "0.00000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := events.ParseDecimal(s)
		if err != nil {
			if !errors.Is(err, events.ErrDecimal) {
				t.Fatalf("error does not wrap ErrDecimal: %v", err)
			}
			return
		}
		txt := v.String()
		back, err := events.ParseDecimal(txt)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", txt, s, err)
		}
		if !back.Equal(v) || back.String() != txt {
			t.Fatalf("round trip %q -> %q -> %q", s, txt, back)
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var j events.Decimal
		if err := json.Unmarshal(js, &j); err != nil || !j.Equal(v) {
			t.Fatalf("JSON round trip of %q: %s %v", s, j, err)
		}
		// Arithmetic identities that must hold exactly.
		if !v.Sub(v).IsZero() || !v.Neg().Add(v).IsZero() {
			t.Fatalf("add/sub identity broken for %s", v)
		}
		if twice, ok := addOrRangePanic(t, v, v); ok && !twice.Sub(v).Equal(v) {
			t.Fatalf("(v+v)-v = %s for %s", twice.Sub(v), v)
		}
		if m, err := v.Mul(events.NewDecimalFromInt(1)); err != nil || !m.Equal(v) {
			t.Fatalf("v*1 = %s, %v for %s", m, err, v)
		}
		if !v.IsZero() {
			if q, err := v.Div(v); err != nil || q.String() != "1" {
				t.Fatalf("v/v = %s, %v for %s", q, err, v)
			}
		}
		two := events.NewDecimalFromInt(2)
		if p, err := v.Mul(two); err == nil {
			if q, err := p.Div(two); err != nil || !q.Equal(v) {
				t.Fatalf("(v*2)/2 = %s, %v for %s", q, err, v)
			}
		}
	})
}

// addOrRangePanic returns a+b, or ok false if Add panicked with an
// out-of-range *DecimalError (any other panic fails the test).
func addOrRangePanic(t *testing.T, a, b events.Decimal) (sum events.Decimal, ok bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			var de *events.DecimalError
			if err, isErr := r.(error); !isErr || !errors.As(err, &de) || !strings.Contains(de.Reason, "2^128") {
				t.Fatalf("%s + %s panicked with %v", a, b, r)
			}
			ok = false
		}
	}()
	return a.Add(b), true
}
