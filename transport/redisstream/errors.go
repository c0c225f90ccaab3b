package redisstream

import "errors"

var (
	// ErrInvalidOption is matched (errors.Is) by every error New and Open
	// return for a bad option, URL or URL query parameter.
	ErrInvalidOption = errors.New("redisstream: invalid option")

	// ErrClosed is returned by Publish, Subscribe, SubscribeInitialize and
	// Subscriber once the Transport (or, for Subscribe, the Subscriber) is
	// closed.
	ErrClosed = errors.New("redisstream: closed")

	// ErrInvalidGroup is returned by Transport.Subscriber for an empty
	// consumer group name or one with characters that cannot be part of a
	// routing-key segment (see events.ValidateSegment).
	ErrInvalidGroup = errors.New("redisstream: invalid consumer group")

	// ErrInvalidMetadata is returned by Publish for a metadata key that
	// cannot be stored as a stream field (empty).
	ErrInvalidMetadata = errors.New("redisstream: invalid metadata")
)
