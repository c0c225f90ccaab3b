package backoff_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/transport/internal/backoff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExponential(t *testing.T) {
	const base, max = 10 * time.Millisecond, 100 * time.Millisecond
	for n, want := range map[int]time.Duration{
		0: 10 * time.Millisecond, 1: 10 * time.Millisecond, 2: 20 * time.Millisecond,
		3: 40 * time.Millisecond, 4: 80 * time.Millisecond, 5: 100 * time.Millisecond,
		50: 100 * time.Millisecond,
	} {
		if got := backoff.Exponential(base, max, n); got != want {
			t.Errorf("attempt %d: %s, want %s", n, got, want)
		}
		if got := backoff.Exponential(base, max, uint64(n)); got != want {
			t.Errorf("delivery %d: %s, want %s", n, got, want)
		}
	}
	if got := backoff.Exponential(base, max, ^uint64(0)); got != max {
		t.Errorf("largest delivery count: %s, want %s", got, max)
	}
	if got := backoff.Exponential(time.Second, 500*time.Millisecond, 1); got != 500*time.Millisecond {
		t.Errorf("base above max: %s, want max", got)
	}
}

func TestLoop(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := backoff.NewErrorLoop()
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		b.Fail(log, "read failed", errors.New("boom"))
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("step %d: %s, want %dms", i, got, w)
		}
	}
	b.OK(log, "read recovered")
	b.OK(log, "read recovered")
	if d := b.Next(); d != backoff.ErrorMin {
		t.Errorf("after OK: %s, want %s", d, backoff.ErrorMin)
	}
	out := buf.String()
	if n := strings.Count(out, "read failed"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "read recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "err=boom") {
		t.Errorf("failure not logged at ERROR with its error:\n%s", out)
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !backoff.Sleep(context.Background(), 5*time.Second) {
			t.Fatal("Sleep reported an early return")
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("slept %s, want 5s", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if backoff.Sleep(ctx, time.Hour) {
			t.Fatal("Sleep ignored its ctx")
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %s, want 1s", d)
		}
	})
}
