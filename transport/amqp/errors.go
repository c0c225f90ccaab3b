package amqp

import (
	"errors"
	"fmt"

	"github.com/tradebus/tradebus/transport"
)

var (
	// ErrInvalidOption is transport.ErrInvalidOption: every error about a
	// bad option or URL query parameter wraps it.
	ErrInvalidOption = transport.ErrInvalidOption

	// ErrClosed is transport.ErrClosed, returned by calls on a closed
	// Driver.
	ErrClosed = transport.ErrClosed

	// ErrConnection is wrapped by errors caused by the connection to the
	// broker: it could not be (re)established within the publish timeout
	// or the caller's ctx, or it was lost while a publish waited for its
	// confirm. In the latter case the broker may or may not have the
	// message: publishing it again can duplicate it (consumers deduplicate
	// by message id).
	ErrConnection = errors.New("amqp: connection to broker failed")

	// ErrNacked means the broker refused a message (basic.nack), e.g. a
	// queue with overflow=reject-publish is full. The message was not
	// stored.
	ErrNacked = errors.New("amqp: broker nacked the message")

	// ErrUnroutable means the broker returned a message published with
	// WithMandatory because no queue is bound for its routing key. The
	// message was not stored.
	ErrUnroutable = errors.New("amqp: message unroutable")
)

// OptionError names the option (or URL query parameter) and the value that
// was rejected. It matches ErrInvalidOption with errors.Is.
type OptionError struct {
	Option string
	Value  string
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("amqp: invalid option %s(%s): %s", e.Option, e.Value, e.Reason)
}

// Unwrap returns ErrInvalidOption.
func (e *OptionError) Unwrap() error { return ErrInvalidOption }
