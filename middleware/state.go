package middleware

import (
	"context"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/internal/msgctx"
)

// failures records the failed attempts of one message. The poison middleware
// puts one into the message context; the retry middleware (inside it) updates
// it, so the poisoned message knows the attempt count and the failure times.
// A message is handled by one goroutine at a time, so no locking is needed.
//
// It is made the first time it matters, after a failure (failureState.get),
// with the counts of a requeued message (its MetaRetry* metadata): a
// message that succeeds at once — nearly every one — pays neither for
// the record nor for those lookups.
type failures struct {
	attempts int // failed handler attempts, across requeues
	requeues int
	first    time.Time
	last     time.Time
}

// failuresKey is the context key of a message's failureState (a
// msgctx.Key: a consumer's shared context answers it at once).
const failuresKey = msgctx.Failures

// failureState is what a message's context holds for its failures: the
// metadata to start the record from, and the record once made.
type failureState struct {
	md  message.Metadata
	rec *failures
}

// get returns the record, making it on first use.
func (s *failureState) get() *failures {
	if s.rec == nil {
		s.rec = &failures{}
		s.rec.fromMetadata(s.md)
		s.md = nil
	}
	return s.rec
}

// fromMetadata starts the record of a message, continuing the counts of
// a requeued message.
func (f *failures) fromMetadata(md message.Metadata) {
	if v := md.Get(MetaRetryAttempts); v != "" { // (parsing "" would allocate an error)
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			f.attempts = n
		}
	}
	if v := md.Get(MetaRetryRequeues); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			f.requeues = n
		}
	}
	if v := md.Get(MetaRetryFirstFailure); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			f.first = t
			f.last = t
		}
	}
}

// failuresCtx is a context carrying a failures record: context.WithValue
// and the record in one allocation. A Dedup middleware handed this very
// context (directly inside the poison or retry middleware, as in Default)
// puts its key here for DedupKey instead of wrapping it in a context of its
// own: one allocation fewer per message.
type failuresCtx struct {
	context.Context
	f        failureState
	dedupKey storeKey // set once, before the handler's first call
	hasDedup bool
}

func (c *failuresCtx) Value(key any) any {
	switch key {
	case failuresKey:
		return &c.f
	case dedupKeyCtx:
		if c.hasDedup {
			return c
		}
	}
	return c.Context.Value(key)
}

// failuresOf returns the failures of msg kept in its context, installing
// them (and reporting installed=true) when there are none.
func failuresOf(msg *message.Message) (f *failureState, installed bool) {
	if f, ok := msg.Context().Value(failuresKey).(*failureState); ok {
		return f, false
	}
	c := &failuresCtx{Context: msg.Context()}
	c.f.md = msg.Metadata
	msg.SetContext(c)
	return &c.f, true
}

func (f *failures) fail(now time.Time) {
	f.attempts++
	if f.first.IsZero() {
		f.first = now
	}
	f.last = now
}

// clockBase anchors monoNow.
var clockBase = time.Now()

// monoNow reads the monotonic clock, in nanoseconds since clockBase: one
// clock read where time.Now makes two (wall and monotonic), which matters
// on machines where a read is a few hundred nanoseconds, and immune to
// steps of the wall clock. In a synctest bubble it follows the bubble's
// clock. Only differences of its readings mean anything.
func monoNow() int64 { return int64(time.Since(clockBase)) }
