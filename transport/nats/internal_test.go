package nats

import (
	"strings"
	"testing"
)

func TestFilterFor(t *testing.T) {
	for _, tc := range []struct {
		pattern, filter string
		exact           bool
	}{
		{"trade.binance.BTCUSDT", "p.trade.binance.BTCUSDT", true},
		{"trade.*.BTCUSDT", "p.trade.*.BTCUSDT", true},
		{"trade.*", "p.trade.*", true},
		{"trade", "p.trade", true},
		{"trade.#", "", true},          // the whole kind stream
		{"trade.#.#", "", true},        // same
		{"trade.binance.#", "", false}, // also matches "trade.binance": filtered in-process
		{"trade.*.#", "", false},       // also matches "trade.x"
		{"trade.#.BTCUSDT", "p.trade.>", false},
		{"trade.binance.#.BTCUSDT", "p.trade.binance.>", false},
		{"trade.#.*", "p.trade.>", false},
	} {
		f, exact := filterFor("p", tc.pattern)
		if f != tc.filter || exact != tc.exact {
			t.Errorf("filterFor(%q) = %q, %v; want %q, %v", tc.pattern, f, exact, tc.filter, tc.exact)
		}
	}
}

func TestNames(t *testing.T) {
	if got := streamName("tradebus", "trade"); got != "tradebus_trade" {
		t.Errorf("stream %q", got)
	}
	if got := streamName("prod.tb", "trade"); got != "prod_tb_trade" {
		t.Errorf("stream with dotted prefix %q", got)
	}
	a, b := streamName("p", "a/b"), streamName("p", "a_b")
	if a == b || strings.ContainsAny(a, "/.") {
		t.Errorf("kinds a/b and a_b: streams %q and %q", a, b)
	}
	c1, c2 := consumerName("g", "trade.a.#"), consumerName("g", "trade_a.#")
	if c1 == c2 {
		t.Errorf("consumer names collide: %q", c1)
	}
	for _, c := range []string{c1, c2, consumerName(strings.Repeat("g", 300), "k.*")} {
		if strings.ContainsAny(c, ".*># \t") || len(c) > 140 {
			t.Errorf("consumer name %q not a valid durable name", c)
		}
	}
}
