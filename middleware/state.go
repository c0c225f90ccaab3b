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
type failures struct {
	attempts int // failed handler attempts, across requeues
	requeues int
	first    time.Time
	last     time.Time
}

type failuresKey struct{}

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
// and the record in one allocation.
type failuresCtx struct {
	context.Context
	f failures
}

func (c *failuresCtx) Value(key any) any {
	if _, ok := key.(failuresKey); ok {
		return &c.f
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
	c.f.fromMetadata(msg.Metadata)
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
