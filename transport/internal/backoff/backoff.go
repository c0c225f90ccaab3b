// Package backoff holds the retry timing shared by the broker drivers: the
// exponential redelivery delay after a Nack, a doubling delay for a loop
// that keeps failing (logging only its first failure and its recovery),
// and a sleep that ends early with its context.
//
// # Concurrency
//
// [Sleep] and [Exponential] are safe for concurrent use. A [Loop] belongs
// to one goroutine (the loop it paces); its zero value never waits.
package backoff

import (
	"context"
	"log/slog"
	"time"
)

// Default bounds of a [Loop] pacing a broker reader, acker or heartbeat
// that keeps failing.
const (
	ErrorMin = 100 * time.Millisecond
	ErrorMax = 5 * time.Second
)

// Integer is an attempt or delivery count.
type Integer interface{ ~int | ~uint64 }

// Exponential is the delay after the n-th attempt (n counts from 1):
// base, doubled for each attempt after the first, at most max. n < 2
// gives base (capped at max).
func Exponential[N Integer](base, max time.Duration, n N) time.Duration {
	d := base
	for i := N(1); i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Sleep waits d or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Loop doubles from Min to Max while a loop keeps failing, and logs the
// first failure and the recovery instead of every attempt.
type Loop struct {
	Min, Max time.Duration
	cur      time.Duration
	failing  bool
}

// NewErrorLoop returns a Loop from [ErrorMin] to [ErrorMax].
func NewErrorLoop() Loop { return Loop{Min: ErrorMin, Max: ErrorMax} }

// Next returns the wait before the next attempt: Min after a success,
// then twice the previous wait, at most Max.
func (b *Loop) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(2*b.cur, b.Max)
	}
	return b.cur
}

// Fail records a failed attempt; it logs msg with err at level Error only
// when the previous attempt succeeded.
func (b *Loop) Fail(l *slog.Logger, msg string, err error) {
	if !b.failing {
		l.Error(msg, "err", err)
	}
	b.failing = true
}

// OK records a successful attempt; it logs msg at level Info when the
// previous attempt failed, and starts the next failure again at Min.
func (b *Loop) OK(l *slog.Logger, msg string) {
	if b.failing {
		l.Info(msg)
	}
	b.failing = false
	b.cur = 0
}
