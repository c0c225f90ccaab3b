package middleware

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// NewTimeout returns a middleware that gives each handler call a context
// deadline of d (msg.Context() is replaced for the call and restored after).
// The handler must honour ctx; a handler that returns context.DeadlineExceeded
// fails transiently and is retried by an outer retry middleware, each attempt
// with a fresh deadline. d must be > 0.
func NewTimeout(d time.Duration) (message.HandlerMiddleware, error) {
	if d <= 0 {
		return nil, invalidOption("NewTimeout", d, "must be > 0")
	}
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			parent := msg.Context()
			ctx, cancel := context.WithTimeout(parent, d)
			defer cancel()
			msg.SetContext(ctx)
			out, err := h(msg)
			msg.SetContext(parent)
			return out, err
		}
	}, nil
}
