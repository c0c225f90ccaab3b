package subscriber

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
)

// ErrInvalidOption is wrapped by every error Handle returns for a bad
// option or argument.
var ErrInvalidOption = errors.New("subscriber: invalid option")

// ErrTypeMismatch is wrapped by the DecodeError of a message whose type
// metadata names another event type than the handler's.
var ErrTypeMismatch = errors.New("subscriber: event type mismatch")

// DecodeError is returned (wrapped with middleware.Permanent) for a message
// that cannot be decoded or validated as the handler's event type. It is a
// permanent error: retrying cannot fix it, so the poison-queue middleware
// takes it at once.
type DecodeError struct {
	MessageUUID string
	RoutingKey  string
	Type        string // the handler's event type
	Err         error  // events.ErrDecode, events.ErrValidation or ErrTypeMismatch
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("subscriber: message %s (key %q) as %s: %v", e.MessageUUID, e.RoutingKey, e.Type, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Func handles one event. ctx carries the event's envelope
// (events.EnvelopeFromContext), so events published with ctx chain their
// correlation and causation ids. Returning an error nacks the message;
// wrap it with middleware.Permanent to skip retries.
type Func[T events.Event] func(ctx context.Context, ev T) error

type config struct {
	name string
}

// Option configures Handle.
type Option func(*config) error

// WithName sets the router handler name (it must be unique per router).
// Default: "<event type>@<pattern>".
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("%w: empty handler name", ErrInvalidOption)
		}
		c.name = name
		return nil
	}
}

// Handle registers fn on r for events of type T whose routing key matches
// pattern, consumed from sub (a transport subscriber of one consumer
// group). It returns the Watermill handler, for handler-level middleware.
// If the router is already running, call r.RunHandlers afterwards.
func Handle[T events.Event](r *message.Router, sub message.Subscriber, pattern string, fn Func[T], opts ...Option) (*message.Handler, error) {
	var zero T
	typ := zero.EventType()
	c := config{name: typ + "@" + pattern}
	for _, opt := range opts {
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	switch {
	case r == nil:
		return nil, fmt.Errorf("%w: nil router", ErrInvalidOption)
	case sub == nil:
		return nil, fmt.Errorf("%w: nil subscriber", ErrInvalidOption)
	case fn == nil:
		return nil, fmt.Errorf("%w: nil handler func", ErrInvalidOption)
	}
	if err := events.ValidatePattern(pattern); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if _, dup := r.Handlers()[c.name]; dup {
		return nil, fmt.Errorf("%w: handler name %q already registered", ErrInvalidOption, c.name)
	}
	h := r.AddConsumerHandler(c.name, pattern, sub, func(msg *message.Message) error {
		ev, err := Decode[T](msg)
		if err != nil {
			return err
		}
		return fn(handlerContext(msg), ev)
	})
	return h, nil
}

// handlerContext returns msg's context carrying its envelope, read out of
// the metadata only when asked for (a context that carries one already,
// e.g. middleware.NewCorrelation's, is kept). It is kept out of line: the
// Watermill router runs every message on a new goroutine with a small
// stack, and a big frame on the handler path makes the runtime grow, i.e.
// copy, that stack for every message.
//
//go:noinline
func handlerContext(msg *message.Message) context.Context {
	ctx := msg.Context()
	if !events.HasEnvelope(ctx) {
		ctx = events.ContextWithMetadata(ctx, msg.Metadata)
	}
	return ctx
}

// Decode decodes and validates msg as T. A failure is a *DecodeError
// wrapped with middleware.Permanent.
func Decode[T events.Event](msg *message.Message) (T, error) {
	var zero T
	typ := zero.EventType()
	if got := msg.Metadata.Get(events.MetaType); got != "" && got != typ {
		return upcast[T](msg, typ, got)
	}
	ev, err := events.Unmarshal[T](msg.Payload)
	if err != nil {
		return zero, decodeError(msg, typ, err)
	}
	return ev, nil
}

// upcast reads msg, written as type got, as T through the registered
// upcasts (events.RegisterUpcast); without one it is a type mismatch.
//
//go:noinline
func upcast[T events.Event](msg *message.Message, typ, got string) (T, error) {
	ev, err := events.UnmarshalAs[T](got, msg.Payload)
	switch {
	case errors.Is(err, events.ErrNoUpcast):
		return ev, decodeError(msg, typ, fmt.Errorf("%w: message is %q", ErrTypeMismatch, got))
	case err != nil:
		return ev, decodeError(msg, typ, err)
	}
	return ev, nil
}

// decodeError is Decode's failure, out of line to keep Decode's frame
// (on every handler goroutine's stack) small.
//
//go:noinline
func decodeError(msg *message.Message, typ string, err error) error {
	return middleware.Permanent(&DecodeError{
		MessageUUID: msg.UUID,
		RoutingKey:  msg.Metadata.Get(events.MetaRoutingKey),
		Type:        typ,
		Err:         err,
	})
}
