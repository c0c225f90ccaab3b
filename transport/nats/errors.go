package nats

import (
	"errors"

	"github.com/tradebus/tradebus/transport"
)

var (
	// ErrInvalidOption is transport.ErrInvalidOption: NewDriver and Open
	// return errors wrapping it for a bad option, URL or URL query
	// parameter.
	ErrInvalidOption = transport.ErrInvalidOption

	// ErrClosed is transport.ErrClosed: the driver returns it after Close.
	ErrClosed = transport.ErrClosed

	// ErrInvalidGroup is transport.ErrInvalidGroup (the core validates
	// consumer group names).
	ErrInvalidGroup = transport.ErrInvalidGroup

	// ErrInvalidMetadata is returned by publishing for a metadata entry
	// that cannot travel as a NATS header: an empty key, a key with white
	// space, ':' or control characters, a reserved key (Tradebus-Uuid,
	// Nats-*), or a value with a line break. Nothing of that call is sent.
	ErrInvalidMetadata = errors.New("nats: invalid metadata")
)
