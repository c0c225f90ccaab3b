package redisstream

import "testing"

func TestMatchesWholeStream(t *testing.T) {
	for p, want := range map[string]bool{
		"trade.#": true, "trade.#.#": true, "trade": false, "trade.*": false,
		"trade.binance.#": false, "trade.#.BTCUSDT": false,
	} {
		if got := matchesWholeStream(p); got != want {
			t.Errorf("%q: %v, want %v", p, got, want)
		}
	}
}
