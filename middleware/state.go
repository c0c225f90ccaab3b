package middleware

import (
	"context"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// failures records the failed attempts of one message. The poison middleware
// puts one into the message context; the retry middleware (inside it) updates
// it, so the poisoned message knows the attempt count and the failure times.
// A message is handled by one goroutine at a time, so no locking is needed.
//
// The counts of a requeued message (its MetaRetry* metadata) are read the
// first time they matter, after a failure: a message that succeeds at
// once — nearly every one — never pays for those lookups.
type failures struct {
	md       message.Metadata // read by load
	loaded   bool
	attempts int // failed handler attempts, across requeues
	requeues int
	first    time.Time
	last     time.Time
}

type failuresKey struct{}

// load reads the counts of a requeued message out of its metadata, once:
// call it before reading the record.
func (f *failures) load() {
	if !f.loaded {
		f.loaded = true
		f.fromMetadata(f.md)
		f.md = nil
	}
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
	f        failures
	dedupKey storeKey // set once, before the handler's first call
	hasDedup bool
}

func (c *failuresCtx) Value(key any) any {
	switch key.(type) {
	case failuresKey:
		return &c.f
	case dedupKeyCtx:
		if c.hasDedup {
			return c
		}
	}
	return c.Context.Value(key)
}

// failuresOf returns the record in msg's context, installing a new one (and
// reporting installed=true) when there is none.
func failuresOf(msg *message.Message) (f *failures, installed bool) {
	if f, ok := msg.Context().Value(failuresKey{}).(*failures); ok {
		return f, false
	}
	c := &failuresCtx{Context: msg.Context()}
	c.f.md = msg.Metadata
	msg.SetContext(c)
	return &c.f, true
}

func (f *failures) fail(now time.Time) {
	f.load()
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
