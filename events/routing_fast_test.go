package events

import "testing"

// FuzzValidateRoutingKey: the one-pass check of ValidateRoutingKey accepts
// exactly what the segment by segment check accepts, and rejects with the
// same error.
func FuzzValidateRoutingKey(f *testing.F) {
	for _, s := range []string{"", ".", "a", "a.", ".a", "a..b", "trade.binance.BTCUSDT", "a.b*", "a.#", "a.>",
		"a b", "a\tb", "ticker.bin\u00e9.X", "a.\u00a0", "a.\x7f", "a.\xff", "k.\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got, want := ValidateRoutingKey(key), validateRoutingKeySlow(key)
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Fatalf("ValidateRoutingKey(%q) = %v, want %v", key, got, want)
		}
	})
}
