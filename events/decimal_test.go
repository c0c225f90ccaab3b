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
		{"340282366920938463463374607431768211455", "340282366920938463463374607431768211455"}, // 2^128-1
		{"340282366920938463463374607431768211456", "340282366920938463463374607431768211456"}, // big.Int fallback
		{"99999999999999999999999999999999999999999.9999999999999999999", "99999999999999999999999999999999999999999.9999999999999999999"},
		{"0.00000000000000000001", ""}, // 20 places
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
		{"add overflow u128 stays exact", add, "340282366920938463463374607431768211455", "1", "340282366920938463463374607431768211456"},
		{"sub", sub, "65000.12", "65000.12", "0"},
		{"sub to negative", sub, "1", "1.0000000000000000001", "-0.0000000000000000001"},
		{"mul", mul, "65000.5", "0.015", "975.0075"},
		{"mul neg", mul, "-2", "0.5", "-1"},
		{"mul 19 places", mul, "0.0000000001", "0.000000001", "0.0000000000000000001"},
		{"mul trailing zeros fit", mul, "0.5000000000", "0.2000000000", "0.1"},
		{"mul exact after big path", mul, "0.0000000005", "0.0000000002", "0.0000000000000000001"},
		{"mul inexact", mul, "0.0000000001", "0.0000000001", ""},
		{"mul large", mul, "340282366920938463463374607431768211455", "10", "3402823669209384634633746074317682114550"},
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
		{"340282366920938463463374607431768211456", "340282366920938463463374607431768211455", 1},
		{"-340282366920938463463374607431768211456", "-340282366920938463463374607431768211455", -1},
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

func TestDecimalMarshalTextTooLong(t *testing.T) {
	// A result of arithmetic may be too long to parse back; MarshalText
	// refuses it instead of writing text ParseDecimal would reject.
	big := d(strings.Repeat("9", 100))
	huge, err := big.Mul(big)
	if err != nil {
		t.Fatal(err)
	}
	huge, err = huge.Mul(big) // 300 digits
	if err != nil {
		t.Fatal(err)
	}
	if _, err := huge.MarshalText(); !errors.Is(err, events.ErrDecimal) {
		t.Fatalf("MarshalText of 300 digits: %v", err)
	}
	if _, err := json.Marshal(huge); err == nil {
		t.Fatal("json.Marshal of 300 digits succeeded")
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
		if !v.Add(v).Sub(v).Equal(v) || !v.Sub(v).IsZero() || !v.Neg().Add(v).IsZero() {
			t.Fatalf("add/sub identity broken for %s", v)
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
