package kafka

import (
	"errors"
	"fmt"

	"github.com/tradebus/tradebus/transport"
)

var (
	// ErrInvalidOption is transport.ErrInvalidOption: every error
	// NewDriver and Open return for a bad option, URL or URL query
	// parameter wraps it.
	ErrInvalidOption = transport.ErrInvalidOption

	// ErrClosed is transport.ErrClosed.
	ErrClosed = transport.ErrClosed

	// ErrInvalidGroup is transport.ErrInvalidGroup.
	ErrInvalidGroup = transport.ErrInvalidGroup

	// ErrInvalidTopic is matched by the *TopicError returned for a routing
	// key or pattern whose kind cannot be part of a Kafka topic name.
	ErrInvalidTopic = errors.New("kafka: invalid topic name")

	// ErrJoinTimeout is returned by Subscribe when the consumer group was
	// not joined within WithJoinTimeout.
	ErrJoinTimeout = errors.New("kafka: consumer group not joined in time")
)

// TopicError names a kind that cannot be mapped to a Kafka topic: Kafka
// topic names are at most 249 characters of [a-zA-Z0-9._-]. It unwraps to
// ErrInvalidTopic.
type TopicError struct {
	Key   string // the routing key or pattern
	Topic string // the topic name it mapped to
}

func (e *TopicError) Error() string {
	return fmt.Sprintf("kafka: routing key %q maps to topic %q, which is not a valid Kafka topic name "+
		"(at most 249 characters of a-z A-Z 0-9 . _ -)", e.Key, e.Topic)
}

// Unwrap returns ErrInvalidTopic.
func (e *TopicError) Unwrap() error { return ErrInvalidTopic }
