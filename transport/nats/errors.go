package nats

import "errors"

var (
	// ErrInvalidOption is matched (errors.Is) by every error New and Open
	// return for a bad option, URL or URL query parameter.
	ErrInvalidOption = errors.New("nats: invalid option")

	// ErrClosed is returned by Publish, Subscribe, SubscribeInitialize and
	// Subscriber once the Transport (or, for Subscribe, the Subscriber) is
	// closed.
	ErrClosed = errors.New("nats: closed")

	// ErrInvalidGroup is returned by Transport.Subscriber for an empty
	// consumer group name or one with characters that cannot be part of a
	// routing-key segment (see events.ValidateSegment).
	ErrInvalidGroup = errors.New("nats: invalid consumer group")

	// ErrInvalidMetadata is returned by Publish for a metadata entry that
	// cannot travel as a NATS header: an empty key, a key with white space,
	// ':' or control characters, or a value with a line break.
	ErrInvalidMetadata = errors.New("nats: invalid metadata")
)
