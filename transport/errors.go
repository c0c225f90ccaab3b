package transport

import (
	"errors"
	"fmt"
)

// The sentinel errors of every transport. Each driver returns (or wraps)
// these, so that errors.Is works the same whatever Open opened.
var (
	// ErrClosed is returned by Publish, Subscribe, Subscriber and
	// SubscribeInitialize once the Transport (or, for Subscribe, the
	// Subscriber) is closed.
	ErrClosed = errors.New("transport: closed")

	// ErrInvalidGroup is wrapped by the error Subscriber returns for a
	// consumer group name that ValidateGroup rejects.
	ErrInvalidGroup = errors.New("transport: invalid consumer group")

	// ErrInvalidOption is wrapped by every error New, Open and a driver's
	// constructor return for a bad option, URL query parameter or value out
	// of bounds.
	ErrInvalidOption = errors.New("transport: invalid option")

	// ErrTooLarge is wrapped by the error Publish returns for a message
	// bigger than the driver's stated limit (payload plus metadata, or
	// metadata alone): then nothing of that call was sent. A driver also
	// wraps it, inside a *driver.SendError, for a message the broker
	// refused as too large (Kafka's MESSAGE_TOO_LARGE).
	ErrTooLarge = errors.New("transport: message too large")

	// ErrUnknownScheme is wrapped by the error Open returns for a URL whose
	// scheme no imported driver registered.
	ErrUnknownScheme = errors.New("transport: unknown URL scheme")

	// ErrInvalidURL is wrapped by the error Open returns for a malformed
	// URL.
	ErrInvalidURL = errors.New("transport: invalid URL")
)

// TooLargeError names the message that exceeded a driver's limit. It
// unwraps to ErrTooLarge.
type TooLargeError struct {
	Driver string // driver name
	Key    string // routing key of the message
	UUID   string // message UUID
	What   string // "message" or "metadata"
	Size   int    // bytes
	Limit  int    // the driver's limit in bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("transport: %s: %s of message %s (key %q) is %d bytes, over the limit of %d",
		e.Driver, e.What, e.UUID, e.Key, e.Size, e.Limit)
}

// Unwrap returns ErrTooLarge.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }
