package middleware

import (
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Stack is the default middleware stack built by Default. Add it to a router
// with router.AddMiddleware(stack.Middlewares()...) or to one handler with
// handler.AddMiddleware(stack.Middleware). A Stack is safe for concurrent use
// and can serve many handlers (dedup keys are namespaced per handler or
// consumer group).
type Stack struct {
	// Poison, Retry and Dedup are the stack's stateful members, exposed for
	// their counters and settings. Dedup is nil with WithoutDedup.
	Poison *Poison
	Retry  *Retry
	Dedup  *Dedup

	mws   []message.HandlerMiddleware
	group string
}

// ConsumerGroup returns the consumer group the stack was built for
// (WithConsumerGroup; "" without it), so that code composing a stack with
// a subscriber can check that both name the same group.
func (s *Stack) ConsumerGroup() string { return s.group }

// Default builds the reliability stack in its one correct order, outermost
// first:
//
//	correlation → poison → retry → dedup → [timeout] → recoverer → handler
//
// Why this order:
//   - correlation is outermost so that every layer below — and every log line
//     they write — sees the envelope in the context, and so that it stamps
//     correlation/causation ids on the final produced messages.
//   - poison wraps retry: it must see only the final outcome, after every
//     retry, and it decides ack (published to the poison topic) or nack
//     (that publish failed, or shutdown). Inside retry it would dead-letter
//     on the first transient error.
//   - retry wraps dedup so that a failing dedup store (Redis blip) is retried
//     like any transient error instead of being dead-lettered, and each retry
//     checks the store again.
//   - dedup wraps the handler (and the timeout and recoverer) so a duplicate
//     never reaches the handler, the key is recorded only after the handler
//     succeeded, and store calls are not cut short by the handler timeout.
//   - timeout (with WithHandlerTimeout) gives each attempt its own deadline.
//   - recoverer is innermost so a panic becomes an error before any other
//     layer sees it: retried, then dead-lettered with class "panic".
//
// poisonPub publishes to the poison topic (usually the transport's
// publisher). Default accepts every option of NewRetry, NewPoison, NewDedup and
// NewRecoverer, plus WithHandlerTimeout and WithoutDedup; an option that
// applies to none of them (e.g. WithReplayLimit) is rejected with
// ErrInvalidOption.
func Default(poisonPub message.Publisher, opts ...Option) (*Stack, error) {
	if poisonPub == nil {
		return nil, fmt.Errorf("%w: nil poison publisher", ErrInvalidOption)
	}
	cfg, err := buildConfig(compStack, opts)
	if err != nil {
		return nil, err
	}
	s := &Stack{Retry: newRetry(cfg), group: cfg.group}
	if s.Poison, err = newPoison(poisonPub, cfg); err != nil {
		return nil, err
	}
	s.mws = []message.HandlerMiddleware{correlation, s.Poison.Middleware, s.Retry.Middleware}
	if !cfg.noDedup {
		if s.Dedup, err = newDedup(cfg); err != nil {
			return nil, err
		}
		s.mws = append(s.mws, s.Dedup.Middleware)
	}
	if cfg.handlerTimeout > 0 {
		t, err := NewTimeout(cfg.handlerTimeout)
		if err != nil {
			return nil, err
		}
		s.mws = append(s.mws, t)
	}
	s.mws = append(s.mws, newRecoverer(cfg))
	return s, nil
}

// Middlewares returns the stack's middlewares, outermost first — the order
// message.Router.AddMiddleware expects.
func (s *Stack) Middlewares() []message.HandlerMiddleware {
	return append([]message.HandlerMiddleware(nil), s.mws...)
}

// Middleware applies the whole stack to h; it is itself a
// message.HandlerMiddleware.
func (s *Stack) Middleware(h message.HandlerFunc) message.HandlerFunc {
	for i := len(s.mws) - 1; i >= 0; i-- {
		h = s.mws[i](h)
	}
	return h
}
