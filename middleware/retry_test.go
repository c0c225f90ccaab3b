package middleware

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// failing returns a handler that fails `fails` times (with err) and then
// succeeds, recording the (fake) time of each attempt relative to start.
func failing(start time.Time, fails int, err error, at *[]time.Duration) message.HandlerFunc {
	n := 0
	return func(msg *message.Message) ([]*message.Message, error) {
		*at = append(*at, time.Since(start))
		n++
		if n <= fails {
			return nil, err
		}
		return nil, nil
	}
}

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestRetryDefaultSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := NewRetry(WithJitter(0), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		_, err = r.Middleware(failing(time.Now(), 100, errFlaky, &at))(testMsg("a"))
		// 5 attempts, waits 100, 200, 400, 800 ms.
		if want := ms(0, 100, 300, 700, 1500); !slices.Equal(at, want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		var re *RetryError
		if !errors.As(err, &re) || re.Attempts != 5 || !errors.Is(err, errFlaky) {
			t.Fatalf("err = %v", err)
		}
		if IsPermanent(err) {
			t.Fatal("exhausted transient error became permanent")
		}
	})
}

func TestRetryCapAndJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// rand = 1 means the largest jitter reduction: wait = d·(1-0.5).
		r, err := NewRetry(WithBackoff(time.Second, 3, 2*time.Second), WithJitter(0.5), withRand(func() float64 { return 1 }), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		_, _ = r.Middleware(failing(time.Now(), 100, errFlaky, &at))(testMsg("a"))
		// Schedule 1s, 3s→cap 2s, 2s, 2s; halved by jitter: 0.5, 1, 1, 1.
		if want := ms(0, 500, 1500, 2500, 3500); !slices.Equal(at, want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Real jitter: every wait in [0.8d, d].
		r, _ := NewRetry(WithLogger(quiet))
		var at []time.Duration
		_, _ = r.Middleware(failing(time.Now(), 100, errFlaky, &at))(testMsg("a"))
		for i := 1; i < len(at); i++ {
			d, full := at[i]-at[i-1], r.Delay(i)
			if d > full || d < full*8/10 {
				t.Fatalf("wait %d = %v, want within [%v, %v]", i, d, full*8/10, full)
			}
		}
	})
}

func TestRetrySucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := NewRetry(WithJitter(0), WithLogger(quiet))
		var at []time.Duration
		out, err := r.Middleware(func(msg *message.Message) ([]*message.Message, error) {
			at = append(at, 0)
			if len(at) < 3 {
				return nil, errFlaky
			}
			return []*message.Message{message.NewMessage("out", nil)}, nil
		})(testMsg("a"))
		if err != nil || len(out) != 1 || len(at) != 3 {
			t.Fatalf("out=%v err=%v attempts=%d", out, err, len(at))
		}
		if r.Retried() != 2 {
			t.Fatalf("Retried() = %d, want 2 (three attempts)", r.Retried())
		}
	})
}

func TestRetryPermanentNotRetried(t *testing.T) {
	r, _ := NewRetry(WithLogger(quiet))
	calls := 0
	_, err := r.Middleware(func(*message.Message) ([]*message.Message, error) {
		calls++
		return nil, Permanent(errFlaky)
	})(testMsg("a"))
	if calls != 1 || !IsPermanent(err) || !errors.Is(err, errFlaky) || r.Retried() != 0 {
		t.Fatalf("calls=%d err=%v retried=%d", calls, err, r.Retried())
	}
}

func TestRetryClassifier(t *testing.T) {
	errRejected := errors.New("order rejected by venue")
	r, _ := NewRetry(WithLogger(quiet), WithPermanentIf(func(err error) bool { return errors.Is(err, errRejected) }))
	calls := 0
	_, err := r.Middleware(func(*message.Message) ([]*message.Message, error) {
		calls++
		return nil, errRejected
	})(testMsg("a"))
	if calls != 1 || !IsPermanent(err) || Classify(err) != ClassPermanent || !errors.Is(err, errRejected) {
		t.Fatalf("calls=%d err=%v", calls, err)
	}
}

func TestRetryStopsWaitingOnContextDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := NewRetry(WithJitter(0), WithLogger(quiet))
		ctx, cancel := context.WithCancel(context.Background())
		msg := testMsg("a")
		msg.SetContext(ctx)
		start := time.Now()
		time.AfterFunc(50*time.Millisecond, cancel) // in the middle of the first 100ms wait
		var at []time.Duration
		_, err := r.Middleware(failing(start, 100, errFlaky, &at))(msg)
		if elapsed := time.Since(start); elapsed != 50*time.Millisecond {
			t.Fatalf("returned after %v, want 50ms", elapsed)
		}
		if len(at) != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) {
			t.Fatalf("attempts=%d err=%v", len(at), err)
		}
	})
}

func TestRetryMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := NewRetry(WithJitter(0), WithMaxElapsed(250*time.Millisecond), WithLogger(quiet))
		var at []time.Duration
		_, err := r.Middleware(failing(time.Now(), 100, errFlaky, &at))(testMsg("a"))
		// 0 fails, wait 100 (ends at 100 <= 250), fails, next wait 200 would end at 300 > 250.
		if want := ms(0, 100); !slices.Equal(at, want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		var re *RetryError
		if !errors.As(err, &re) || re.Attempts != 2 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRetryResetsContextPerAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := NewRetry(WithJitter(0), WithLogger(quiet))
		var errs []error
		_, err := r.Middleware(func(msg *message.Message) ([]*message.Message, error) {
			errs = append(errs, msg.Context().Err())
			ctx, cancel := context.WithCancel(msg.Context())
			cancel()
			msg.SetContext(ctx) // a careless handler leaves a cancelled ctx behind
			if len(errs) < 3 {
				return nil, errFlaky
			}
			return nil, nil
		})(testMsg("a"))
		if err != nil || !slices.Equal(errs, []error{nil, nil, nil}) {
			t.Fatalf("err=%v ctx errors=%v", err, errs)
		}
	})
}

func TestRetryRequeue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := newRecPub()
		r, err := NewRetry(WithJitter(0), WithMaxAttempts(2), WithRequeue(pub, 1), WithConsumerGroup("exec"), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var at []time.Duration
		h := r.Middleware(failing(start, 100, errFlaky, &at))

		// First delivery: 2 attempts (0, 100ms), then requeued and acked.
		out, err := h(testMsg("a"))
		if err != nil || out != nil {
			t.Fatalf("requeue: out=%v err=%v", out, err)
		}
		copies := pub.on("trade.binance.BTCUSDT")
		if len(copies) != 1 {
			t.Fatalf("requeued %d copies", len(copies))
		}
		cp := copies[0]
		md := cp.Metadata
		if cp.UUID != "a" || string(cp.Payload) != `{"n":1}` || md.Get("correlationid") != "corr-a" {
			t.Fatalf("copy changed: %v %s %v", cp.UUID, cp.Payload, md)
		}
		due := start.Add(100*time.Millisecond + r.Delay(2)) // failed at 100ms, next wait 200ms
		if md.Get(MetaRetryAttempts) != "2" || md.Get(MetaRetryRequeues) != "1" ||
			md.Get(MetaRetryAfter) != due.UTC().Format(time.RFC3339Nano) ||
			md.Get(MetaRetryFirstFailure) != start.UTC().Format(time.RFC3339Nano) ||
			md.Get(MetaRetryGroup) != "exec" {
			t.Fatalf("requeue metadata: %v", md)
		}

		// The copy comes back at once: the middleware waits until it is due,
		// then retries twice more; the requeue budget is spent, so it gives up.
		_, err = h(cp)
		// attempts 3 and 4 continue the schedule: due = 300ms, then +400ms.
		if want := ms(0, 100, 300, 700); !slices.Equal(at, want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		var re *RetryError
		if !errors.As(err, &re) || re.Attempts != 4 {
			t.Fatalf("err = %v", err)
		}
		if pub.count() != 1 {
			t.Fatal("requeued beyond the budget")
		}
	})
}

func TestRetryRequeuedCopySkippedByOtherHandlers(t *testing.T) {
	r, _ := NewRetry(WithConsumerGroup("portfolio"), WithLogger(quiet))
	msg := testMsg("a")
	msg.Metadata.Set(MetaRetryHandler, "executor")
	msg.Metadata.Set(MetaRetryGroup, "exec")
	msg.Metadata.Set(MetaRetryAfter, time.Now().Add(time.Hour).Format(time.RFC3339Nano))
	called := false
	out, err := r.Middleware(func(*message.Message) ([]*message.Message, error) {
		called = true
		return nil, nil
	})(msg)
	if called || out != nil || err != nil {
		t.Fatalf("called=%v out=%v err=%v", called, out, err)
	}
}

func TestRetryRequeuePublishFails(t *testing.T) {
	pub := newRecPub()
	pub.fails = 1
	r, _ := NewRetry(WithMaxAttempts(1), WithRequeue(pub, 0), WithLogger(quiet))
	_, err := r.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, errFlaky })(testMsg("a"))
	if !errors.Is(err, ErrRequeue) || !errors.Is(err, errFlaky) {
		t.Fatalf("err = %v", err)
	}
	// Without a routing key the copy cannot be addressed.
	msg := testMsg("b")
	msg.Metadata.Set("routingkey", "")
	_, err = r.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, errFlaky })(msg)
	if !errors.Is(err, ErrRequeue) {
		t.Fatalf("err = %v", err)
	}
}

func TestRetryDelay(t *testing.T) {
	r, _ := NewRetry()
	for n, want := range map[int]time.Duration{0: 100 * time.Millisecond, 1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 6: 3200 * time.Millisecond, 7: 5 * time.Second, 1000: 5 * time.Second} {
		if got := r.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}

// TestRetryReadsRequeueKeysOnlyOnACopy: Retry takes a message for a
// requeued copy only when it has MetaRetryAfter, which every copy has; a
// message with only MetaRetryHandler (not one Retry requeued) is handled.
func TestRetryReadsRequeueKeysOnlyOnACopy(t *testing.T) {
	r, _ := NewRetry(WithConsumerGroup("portfolio"), WithLogger(quiet))
	msg := testMsg("a")
	msg.Metadata.Set(MetaRetryHandler, "executor")
	msg.Metadata.Set(MetaRetryGroup, "exec")
	called := false
	if _, err := r.Middleware(func(*message.Message) ([]*message.Message, error) {
		called = true
		return nil, nil
	})(msg); err != nil || !called {
		t.Fatalf("called=%v err=%v, want the handler called", called, err)
	}
}
