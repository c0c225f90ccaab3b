package middleware

import (
	"log/slog"
	"runtime/debug"

	"github.com/ThreeDotsLabs/watermill/message"
)

// NewRecoverer returns the recoverer middleware: a panic in the handler is
// recovered and returned as a *PanicError carrying the panic value and the
// goroutine stack (logged at error level), so the message takes the normal
// path — retried like a transient error, then dead-lettered with class
// "panic" and the stack in MetaPoisonStack. Messages the handler produced
// before panicking are dropped.
//
// Options: WithLogger. Safe for concurrent use.
func NewRecoverer(opts ...Option) (message.HandlerMiddleware, error) {
	cfg, err := buildConfig(compRecoverer, opts)
	if err != nil {
		return nil, err
	}
	return newRecoverer(cfg), nil
}

func newRecoverer(cfg config) message.HandlerMiddleware {
	logger := cfg.logger
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) (out []*message.Message, err error) {
			defer func() {
				if r := recover(); r != nil {
					pe := &PanicError{Value: r, Stack: debug.Stack()}
					logger.ErrorContext(msg.Context(), "tradebus: handler panicked",
						slog.String("message_uuid", msg.UUID),
						slog.String("handler", HandlerName(msg.Context())),
						slog.Any("panic", r), slog.String("stack", string(pe.Stack)))
					out, err = nil, pe
				}
			}()
			return h(msg)
		}
	}
}
