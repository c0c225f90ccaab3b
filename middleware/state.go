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

// failuresFromMetadata starts the record of a message, continuing the counts of
// a requeued message.
func failuresFromMetadata(md message.Metadata) *failures {
	f := &failures{}
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
	return f
}

// failuresOf returns the record in msg's context, installing a new one (and
// reporting installed=true) when there is none.
func failuresOf(msg *message.Message) (f *failures, installed bool) {
	if f, ok := msg.Context().Value(failuresKey{}).(*failures); ok {
		return f, false
	}
	f = failuresFromMetadata(msg.Metadata)
	msg.SetContext(context.WithValue(msg.Context(), failuresKey{}, f))
	return f, true
}

func (f *failures) fail(now time.Time) {
	f.attempts++
	if f.first.IsZero() {
		f.first = now
	}
	f.last = now
}
