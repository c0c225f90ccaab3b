package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/telemetry"
)

// RetryError is returned by the retry middleware when a transient error
// persisted through every attempt it was allowed (or through its time budget).
// It unwraps to the last handler error.
type RetryError struct {
	// Attempts is the number of handler attempts, across requeues.
	Attempts int
	// Err is the last handler error.
	Err error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.Attempts, e.Err)
}

// Unwrap returns the last handler error.
func (e *RetryError) Unwrap() error { return e.Err }

// Retry is the retry middleware: it runs the handler again after a transient
// error, waiting an exponentially growing, jittered interval between attempts.
//
// Permanent errors (see Permanent, WithPermanentIf) are returned at once. After
// WithMaxAttempts attempts, or when the next wait would exceed WithMaxElapsed,
// the last error is returned wrapped in a *RetryError (so the poison middleware
// dead-letters the message) or — with WithRequeue — the message is requeued with
// a delay and acked. Waiting stops at once when the message context is done
// (router closing, delivery cancelled); the error is then returned and the
// message is nacked, never dead-lettered.
//
// Each attempt starts with the message context the middleware was called with,
// so a ctx cancelled by one attempt (e.g. a Timeout inside) does not poison the
// next. A Retry is safe for concurrent use; its zero value is not usable (use
// NewRetry).
type Retry struct {
	cfg     config
	retried atomic.Uint64
}

// NewRetry returns the retry middleware. Options: WithMaxAttempts,
// WithBackoff, WithJitter, WithMaxElapsed, WithPermanentIf, WithRequeue,
// WithConsumerGroup, WithLogger. Without options: 5 attempts, waits of about
// 100ms, 200ms, 400ms, 800ms (jitter 20% downwards), cap 5s, budget 30s,
// dead-letter after the last attempt.
func NewRetry(opts ...Option) (*Retry, error) {
	cfg, err := buildConfig(compRetry, opts)
	if err != nil {
		return nil, err
	}
	return newRetry(cfg), nil
}

func newRetry(cfg config) *Retry {
	if cfg.randFloat == nil {
		cfg.randFloat = rand.Float64
	}
	return &Retry{cfg: cfg}
}

// Retried returns how many times the handler was run again after a
// transient error (every attempt after the first, across deliveries).
func (r *Retry) Retried() uint64 { return r.retried.Load() }

// Delay returns the wait after the n-th failed attempt (n >= 1) before
// jitter: initial·multiplier^(n-1), capped at the maximum interval.
func (r *Retry) Delay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(r.cfg.initialInterval) * math.Pow(r.cfg.multiplier, float64(n-1))
	if d >= float64(r.cfg.maxInterval) || math.IsInf(d, 0) || math.IsNaN(d) {
		return r.cfg.maxInterval
	}
	return time.Duration(d)
}

// jittered returns Delay(n) reduced by up to the jitter fraction.
func (r *Retry) jittered(n int) time.Duration {
	d := r.Delay(n)
	if r.cfg.jitter == 0 {
		return d
	}
	return d - time.Duration(float64(d)*r.cfg.jitter*r.cfg.randFloat())
}

// Middleware implements message.HandlerMiddleware.
func (r *Retry) Middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		fs, _ := failuresOf(msg)
		ctx := msg.Context()
		// The handler name (a walk up the context) is needed only for a
		// requeued copy and after a failure.
		handler := ""
		// A requeued copy carries MetaRetryAfter (requeue sets it with
		// MetaRetryHandler and MetaRetryGroup): a message without it —
		// nearly every one — pays for that one lookup only.
		if after := msg.Metadata.Get(MetaRetryAfter); after != "" {
			if rh := msg.Metadata.Get(MetaRetryHandler); rh != "" {
				handler = HandlerName(ctx)
				if rg := msg.Metadata.Get(MetaRetryGroup); rh != handler || rg != r.cfg.group {
					// A requeued copy meant for another handler or consumer group.
					r.cfg.logger.DebugContext(ctx, "tradebus: skipping message requeued for another handler",
						slog.String("message_uuid", msg.UUID), slog.String("handler", handler),
						slog.String("requeued_for_handler", rh), slog.String("requeued_for_group", rg))
					return nil, nil
				}
			}
			if due, err := time.Parse(time.RFC3339Nano, after); err == nil {
				if wait := min(time.Until(due), r.cfg.maxInterval); wait > 0 {
					if err := sleep(ctx, wait); err != nil {
						return nil, err
					}
				}
			}
		}

		start := monoNow()
		var err error
		var f *failures
		for attempt := 1; ; attempt++ {
			msg.SetContext(ctx)
			var out []*message.Message
			out, err = h(msg)
			if err == nil {
				return out, nil
			}
			if handler == "" {
				handler = HandlerName(ctx)
			}
			f = fs.get()
			f.fail(time.Now())
			if !IsPermanent(err) && r.cfg.permanentIf != nil && r.cfg.permanentIf(err) {
				err = Permanent(err)
			}
			if IsPermanent(err) {
				return nil, err
			}
			if ctx.Err() != nil {
				// Shutting down or the delivery was cancelled: hand it back.
				return nil, err
			}
			if attempt >= r.cfg.maxAttempts {
				break
			}
			wait := r.jittered(f.attempts)
			if time.Duration(monoNow()-start)+wait > r.cfg.maxElapsed {
				break
			}
			telemetry.Retried(ctx, f.attempts, err)
			r.cfg.logger.WarnContext(ctx, "tradebus: handler failed, retrying",
				slog.String("message_uuid", msg.UUID), slog.String("handler", handler),
				slog.Int("attempt", f.attempts), slog.Duration("wait", wait), slog.Any("error", err))
			if serr := sleep(ctx, wait); serr != nil {
				return nil, fmt.Errorf("%w (retry stopped: %w)", err, serr)
			}
			r.retried.Add(1)
		}
		msg.SetContext(ctx)

		if r.cfg.requeuePub != nil && f.requeues < r.cfg.maxRequeues {
			if qerr := r.requeue(msg, f, handler); qerr != nil {
				return nil, errors.Join(&RetryError{Attempts: f.attempts, Err: err}, qerr)
			}
			r.cfg.logger.WarnContext(ctx, "tradebus: handler failed, message requeued",
				slog.String("message_uuid", msg.UUID), slog.String("handler", handler),
				slog.Int("attempts", f.attempts), slog.Int("requeues", f.requeues), slog.Any("error", err))
			return nil, nil
		}
		return nil, &RetryError{Attempts: f.attempts, Err: err}
	}
}

// requeue publishes a delayed copy of msg to its routing key.
func (r *Retry) requeue(msg *message.Message, f *failures, handler string) error {
	key := msg.Metadata.Get(events.MetaRoutingKey)
	if err := events.ValidateRoutingKey(key); err != nil {
		return fmt.Errorf("%w: message has no valid %q metadata: %w", ErrRequeue, events.MetaRoutingKey, err)
	}
	cp := msg.Copy()
	cp.Metadata.Set(MetaRetryAttempts, strconv.Itoa(f.attempts))
	cp.Metadata.Set(MetaRetryRequeues, strconv.Itoa(f.requeues+1))
	cp.Metadata.Set(MetaRetryFirstFailure, f.first.UTC().Format(time.RFC3339Nano))
	cp.Metadata.Set(MetaRetryAfter, time.Now().Add(r.jittered(f.attempts)).UTC().Format(time.RFC3339Nano))
	cp.Metadata.Set(MetaRetryHandler, handler)
	cp.Metadata.Set(MetaRetryGroup, r.cfg.group)
	cp.SetContext(msg.Context())
	if err := r.cfg.requeuePub.Publish(key, cp); err != nil {
		return fmt.Errorf("%w to %q: %w", ErrRequeue, key, err)
	}
	f.requeues++
	return nil
}

// sleep waits d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
