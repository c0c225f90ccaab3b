package nats

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
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

func TestRedeliveryDelay(t *testing.T) {
	c := &config{backoff: 10 * time.Millisecond, backoffMax: 100 * time.Millisecond}
	for delivered, want := range map[uint64]time.Duration{
		1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond,
		4: 80 * time.Millisecond, 5: 100 * time.Millisecond, 500: 100 * time.Millisecond,
	} {
		if got := redeliveryDelay(c, delivered); got != want {
			t.Errorf("delivery %d: %s, want %s", delivered, got, want)
		}
	}
}

func TestErrorBackoff(t *testing.T) {
	b := backoff{min: errorBackoff, max: errorBackoffMax}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := b.next(); got != w*time.Millisecond {
			t.Fatalf("step %d: %s, want %dms", i, got, w)
		}
	}
	b.ok(slog.New(slog.DiscardHandler), "recovered")
	if d := b.next(); d != errorBackoff {
		t.Errorf("after ok: %s", d)
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !sleep(context.Background(), 3*time.Second) || time.Since(start) != 3*time.Second {
			t.Errorf("sleep 3s took %s", time.Since(start))
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		start = time.Now()
		if sleep(ctx, time.Hour) || time.Since(start) != time.Second {
			t.Errorf("cancelled sleep returned after %s", time.Since(start))
		}
	})
}
