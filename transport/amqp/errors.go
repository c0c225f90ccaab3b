package amqp

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOption is wrapped by every error about a bad option, URL
	// query parameter, group, topic or pattern.
	ErrInvalidOption = errors.New("amqp: invalid option")

	// ErrClosed is returned by calls on a closed Transport.
	ErrClosed = errors.New("amqp: transport closed")

	// ErrConnection is wrapped by errors caused by the connection to the
	// broker: it could not be (re)established within the publish timeout,
	// or it was lost while a publish waited for its confirm. In the latter
	// case the broker may or may not have the message: publishing it again
	// can duplicate it (consumers deduplicate by message id).
	ErrConnection = errors.New("amqp: connection to broker failed")

	// ErrNacked means the broker refused a message (basic.nack), e.g. a
	// queue with overflow=reject-publish is full. The message was not
	// stored.
	ErrNacked = errors.New("amqp: broker nacked the message")
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

// PublishError reports a failed Publish. Failed of Total messages of the call
// were not confirmed; MessageID is the first of them. Err wraps ErrConnection,
// ErrNacked, ErrClosed or the context's error.
type PublishError struct {
	Topic     string
	MessageID string
	Failed    int
	Total     int
	Err       error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("amqp: publish to %q: %d of %d messages not confirmed (first %s): %v",
		e.Topic, e.Failed, e.Total, e.MessageID, e.Err)
}

// Unwrap returns the cause.
func (e *PublishError) Unwrap() error { return e.Err }
