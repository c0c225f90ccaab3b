package redisstream

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

func TestRedeliveryDelay(t *testing.T) {
	c := &config{backoff: 10 * time.Millisecond, backoffMax: 100 * time.Millisecond}
	for attempt, want := range map[int]time.Duration{
		1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond,
		4: 80 * time.Millisecond, 5: 100 * time.Millisecond, 50: 100 * time.Millisecond,
	} {
		if got := redeliveryDelay(c, attempt); got != want {
			t.Errorf("attempt %d: %s, want %s", attempt, got, want)
		}
	}
}

func TestErrorBackoff(t *testing.T) {
	b := backoff{min: errorBackoff, max: errorBackoffMax}
	var got []time.Duration
	for range 8 {
		got = append(got, b.next())
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("backoff %v, want %v ms", got, want)
		}
	}
	b.ok(discardLogger(), "recovered")
	if d := b.next(); d != errorBackoff {
		t.Errorf("after ok: %s, want %s", d, errorBackoff)
	}
}

// TestSleep checks with a fake clock that sleep waits the full duration
// and returns early when its ctx ends.
func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !sleep(context.Background(), 5*time.Second) {
			t.Fatal("sleep reported early return")
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("slept %s, want 5s", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if sleep(ctx, time.Hour) {
			t.Fatal("sleep ignored its ctx")
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %s, want 1s", d)
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("ctx: %v", ctx.Err())
		}
	})
}

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

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
