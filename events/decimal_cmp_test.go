package events

import (
	"testing"

	"github.com/quagmt/udecimal"
)

// FuzzDecimalCmp: Decimal.Cmp (with its 64-bit fast path) agrees with
// udecimal's Cmp for any two values, Equal with Cmp, and the sign tests
// with udecimal's. Each fuzzed value is also compared with zero and with
// the largest coefficients.
func FuzzDecimalCmp(f *testing.F) {
	f.Add(false, uint64(0), uint64(6499950), uint8(2), false, uint64(0), uint64(649995), uint8(1))
	f.Add(false, uint64(0), uint64(1<<64-1), uint8(0), false, uint64(0), uint64(1<<64-1), uint8(19))
	f.Add(true, uint64(0), uint64(15), uint8(1), true, uint64(0), uint64(150), uint8(2))
	f.Add(true, uint64(0), uint64(1), uint8(19), false, uint64(0), uint64(0), uint8(0))
	f.Add(false, uint64(1), uint64(0), uint8(3), false, uint64(0), uint64(1<<64-1), uint8(0))
	f.Add(false, uint64(0), uint64(18446744073709551615), uint8(0), false, uint64(0), uint64(1844674407370955162), uint8(19))
	f.Add(false, uint64(0), uint64(10000000000000000000), uint8(19), false, uint64(0), uint64(1), uint8(0))
	var special []udecimal.Decimal
	for _, s := range []string{"-0", "0", "340282366920938463463374607431768211455", "-34028236692093846346337460743176821145.5",
		"-0.0000000000000000001", "18446744073709551616"} {
		special = append(special, udecimal.MustParse(s))
	}
	f.Fuzz(func(t *testing.T, an bool, ah, al uint64, ap uint8, bn bool, bh, bl uint64, bp uint8) {
		a, err := udecimal.NewFromHiLo(an, ah, al, ap)
		if err != nil {
			return
		}
		b, err := udecimal.NewFromHiLo(bn, bh, bl, bp)
		if err != nil {
			return
		}
		for _, y := range append([]udecimal.Decimal{b, a.Neg()}, special...) {
			for _, p := range [][2]udecimal.Decimal{{a, y}, {y, a}} {
				x, y := p[0], p[1]
				want := x.Cmp(y)
				if got := decOf(x).Cmp(decOf(y)); got != want {
					t.Fatalf("Cmp(%s, %s) = %d, udecimal %d", x, y, got, want)
				}
				if decOf(x).Equal(decOf(y)) != (want == 0) {
					t.Fatalf("Equal(%s, %s) wrong", x, y)
				}
			}
		}
		for _, v := range append([]udecimal.Decimal{a, b, a.Neg()}, special...) {
			x := decOf(v)
			if x.Sign() != v.Sign() || x.IsZero() != v.IsZero() || x.IsPositive() != v.IsPos() || x.IsNegative() != v.IsNeg() {
				t.Fatalf("sign of %s: %d %v %v %v", v, x.Sign(), x.IsZero(), x.IsPositive(), x.IsNegative())
			}
		}
	})
}
