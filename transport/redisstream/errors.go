package redisstream

import (
	"errors"

	"github.com/tradebus/tradebus/transport"
)

var (
	// ErrInvalidOption is transport.ErrInvalidOption, kept under this name
	// for compatibility: every error NewDriver and Open return for a bad
	// option, URL or URL query parameter wraps it.
	ErrInvalidOption = transport.ErrInvalidOption

	// ErrClosed is transport.ErrClosed, kept under this name for
	// compatibility: the driver returns it once it is closed.
	ErrClosed = transport.ErrClosed

	// ErrInvalidGroup is transport.ErrInvalidGroup, kept under this name
	// for compatibility (the core validates consumer groups).
	ErrInvalidGroup = transport.ErrInvalidGroup

	// ErrInvalidMetadata is wrapped by the error of a publish with a
	// metadata key that cannot be stored as a stream field (empty).
	// Nothing of that call was sent.
	ErrInvalidMetadata = errors.New("redisstream: invalid metadata")
)
