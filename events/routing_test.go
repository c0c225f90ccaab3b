package events_test

import (
	"errors"
	"testing"

	"github.com/tradebus/tradebus/events"
)

func TestValidateSegment(t *testing.T) {
	tests := []struct {
		seg string
		ok  bool
	}{
		{"binance", true},
		{"BTCUSDT", true},
		{"BTC-USD", true},
		{"BTC/USDT", true},
		{"BTC_USDT:USDT", true},
		{"ÄÖÜ", true},
		{"", false},
		{"a.b", false},
		{"*", false},
		{"a*", false},
		{"#", false},
		{"a#b", false},
		{">", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"\x00", false},
		{"\u00a0", false}, // no-break space
	}
	for _, tc := range tests {
		err := events.ValidateSegment(tc.seg)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateSegment(%q) = %v, want ok=%v", tc.seg, err, tc.ok)
		}
		if err != nil {
			var re *events.RoutingError
			if !errors.Is(err, events.ErrInvalidRoutingKey) || !errors.As(err, &re) || re.Reason == "" {
				t.Errorf("ValidateSegment(%q): error %v does not match ErrInvalidRoutingKey/*RoutingError", tc.seg, err)
			}
		}
	}
}

func TestValidateRoutingKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"trade", true},
		{"trade.binance.BTCUSDT", true},
		{"candle.binance.BTCUSDT.1m", true},
		{"", false},
		{".", false},
		{"trade.", false},
		{".trade", false},
		{"trade..BTCUSDT", false},
		{"trade.*.BTCUSDT", false},
		{"trade.#", false},
		{"trade.bin ance.BTCUSDT", false},
		{"trade.>", false},
	}
	for _, tc := range tests {
		err := events.ValidateRoutingKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateRoutingKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
		var re *events.RoutingError
		if err != nil && (!errors.Is(err, events.ErrInvalidRoutingKey) || !errors.As(err, &re) || re.Key != tc.key) {
			t.Errorf("ValidateRoutingKey(%q): error %v should be *RoutingError naming the key", tc.key, err)
		}
	}
}

func TestValidatePattern(t *testing.T) {
	tests := []struct {
		pattern string
		ok      bool
	}{
		{"trade", true},
		{"trade.#", true},
		{"trade.*", true},
		{"trade.*.BTCUSDT", true},
		{"trade.binance.*", true},
		{"trade.#.BTCUSDT", true},
		{"candle.*.*.1m", true},
		{"trade.#.#", true},
		{"", false},
		{"#", false},
		{"*", false},
		{"*.binance.BTCUSDT", false},
		{"#.BTCUSDT", false},
		{"trade.", false},
		{"trade..x", false},
		{"trade.bin*", false},
		{"trade.#x", false},
		{"trade.>", false},
		{"trade.a b", false},
	}
	for _, tc := range tests {
		err := events.ValidatePattern(tc.pattern)
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePattern(%q) = %v, want ok=%v", tc.pattern, err, tc.ok)
		}
		if err != nil && !errors.Is(err, events.ErrInvalidRoutingKey) {
			t.Errorf("ValidatePattern(%q): %v does not wrap ErrInvalidRoutingKey", tc.pattern, err)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		// exact
		{"trade.binance.BTCUSDT", "trade.binance.BTCUSDT", true},
		{"trade.binance.BTCUSDT", "trade.binance.ETHUSDT", false},
		{"trade", "trade", true},
		{"trade", "trade.binance", false},
		{"trade.binance", "trade", false},
		// '*' is exactly one segment
		{"trade.*.BTCUSDT", "trade.binance.BTCUSDT", true},
		{"trade.*.BTCUSDT", "trade.kraken.BTCUSDT", true},
		{"trade.*.BTCUSDT", "trade.binance.ETHUSDT", false},
		{"trade.*.BTCUSDT", "trade.BTCUSDT", false},
		{"trade.*.BTCUSDT", "trade.a.b.BTCUSDT", false},
		{"trade.*", "trade.binance", true},
		{"trade.*", "trade", false},
		{"trade.*", "trade.binance.BTCUSDT", false},
		{"trade.*.*", "trade.binance.BTCUSDT", true},
		{"trade.*.*", "trade.binance", false},
		// '#' is zero or more segments
		{"trade.#", "trade", true},
		{"trade.#", "trade.binance", true},
		{"trade.#", "trade.binance.BTCUSDT", true},
		{"trade.#", "ticker.binance.BTCUSDT", false},
		{"trade.#", "trades.binance", false},
		{"trade.#.BTCUSDT", "trade.BTCUSDT", true},
		{"trade.#.BTCUSDT", "trade.binance.BTCUSDT", true},
		{"trade.#.BTCUSDT", "trade.a.b.c.BTCUSDT", true},
		{"trade.#.BTCUSDT", "trade.binance.ETHUSDT", false},
		{"trade.#.BTCUSDT", "trade.BTCUSDT.x", false},
		{"candle.#.1m", "candle.binance.BTCUSDT.1m", true},
		{"candle.#.1m", "candle.binance.BTCUSDT.5m", false},
		{"trade.#.#", "trade", true},
		{"trade.#.#", "trade.a.b", true},
		{"trade.#.*", "trade", false},
		{"trade.#.*", "trade.a", true},
		{"trade.#.*", "trade.a.b.c", true},
		{"trade.*.#", "trade", false},
		{"trade.*.#", "trade.a", true},
		{"trade.*.#", "trade.a.b", true},
		{"trade.#.b.#", "trade.a.b.c", true},
		{"trade.#.b.#", "trade.b", true},
		{"trade.#.b.#", "trade.a.c", false},
		// kind must match literally
		{"ticker.#", "trade.binance.BTCUSDT", false},
	}
	for _, tc := range tests {
		if got := events.MatchPattern(tc.pattern, tc.key); got != tc.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tc.pattern, tc.key, got, tc.want)
		}
	}
}

func TestKeyAndKind(t *testing.T) {
	if got := events.Key("trade", "binance", "BTCUSDT"); got != "trade.binance.BTCUSDT" {
		t.Errorf("Key = %q", got)
	}
	if got := events.Key("trade"); got != "trade" {
		t.Errorf("Key(kind) = %q", got)
	}
	for key, want := range map[string]string{"trade.binance.BTCUSDT": "trade", "trade": "trade", "trade.#": "trade", "": ""} {
		if got := events.Kind(key); got != want {
			t.Errorf("Kind(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzMatchPattern(f *testing.F) {
	f.Add("trade.#.BTCUSDT", "trade.binance.BTCUSDT")
	f.Add("trade.*.#", "trade")
	f.Fuzz(func(t *testing.T, pattern, key string) {
		got := events.MatchPattern(pattern, key)
		// A concrete pattern matches only itself.
		if events.ValidateRoutingKey(pattern) == nil && got != (pattern == key) {
			t.Fatalf("concrete pattern %q vs %q: %v", pattern, key, got)
		}
		// "<kind>.#" matches every key of that kind.
		if events.ValidateRoutingKey(key) == nil && !events.MatchPattern(events.Kind(key)+".#", key) {
			t.Fatalf("%q.# does not match %q", events.Kind(key), key)
		}
	})
}

func TestMatchPatternAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		if !events.MatchPattern("trade.*.BTCUSDT.#", "trade.binance.BTCUSDT") {
			t.Fatal("no match")
		}
	})
	if n != 0 {
		t.Errorf("MatchPattern allocates %v times per call, want 0", n)
	}
}

// TestAppendRoutingKey: AppendRoutingKey appends exactly RoutingKey for
// every event type, and builds the market-data types' keys without
// allocating.
func TestAppendRoutingKey(t *testing.T) {
	for _, e := range allValid() {
		if got, want := string(events.AppendRoutingKey([]byte("x:"), e)), "x:"+e.RoutingKey(); got != want {
			t.Errorf("%s: AppendRoutingKey = %q, want %q", e.EventType(), got, want)
		}
	}
	buf := make([]byte, 0, 64)
	var e events.Event = validTrade()
	if n := testing.AllocsPerRun(100, func() { buf = events.AppendRoutingKey(buf[:0], e) }); n != 0 {
		t.Errorf("AppendRoutingKey(Trade): %v allocs, want 0", n)
	}
}
