package transport

import (
	"fmt"
	"testing"

	"github.com/tradebus/tradebus/events"
)

// TestConsumerMatchesRemembers: the remembered answers are MatchPattern's,
// for keys seen again and after the memory was cleared at its bound.
func TestConsumerMatchesRemembers(t *testing.T) {
	c := &consumer{pattern: "trade.binance.*", matched: make(map[string]bool)}
	for round := range 3 {
		for i := range maxMatchCache + 10 {
			key := fmt.Sprintf("trade.binance.SYM%d", i)
			if i%3 == 0 {
				key = fmt.Sprintf("trade.kraken.SYM%d", i)
			}
			if got, want := c.matches(key), events.MatchPattern(c.pattern, key); got != want {
				t.Fatalf("round %d: matches(%q) = %v, MatchPattern %v", round, key, got, want)
			}
		}
		if len(c.matched) > maxMatchCache {
			t.Fatalf("%d answers kept, bound %d", len(c.matched), maxMatchCache)
		}
	}
}
