package kafka

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOption is matched (errors.Is) by every error New and Open
	// return for a bad option, URL or URL query parameter.
	ErrInvalidOption = errors.New("kafka: invalid option")

	// ErrClosed is returned by Publish, Subscribe, SubscribeInitialize and
	// Subscriber once the Transport (or, for Subscribe, the Subscriber) is
	// closed.
	ErrClosed = errors.New("kafka: closed")

	// ErrInvalidGroup is returned by Transport.Subscriber for an empty
	// consumer group name or one containing ':' (the separator of GroupID).
	ErrInvalidGroup = errors.New("kafka: invalid consumer group")

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

// PublishError reports the messages of one Publish call that the broker did
// not acknowledge. It unwraps to the first failure's cause (a kerr error,
// kgo.ErrClientClosed, context.DeadlineExceeded …).
type PublishError struct {
	Key    string // routing key (Watermill topic) of the call
	UUID   string // UUID of the first message that failed
	Failed int    // how many messages of the call failed
	Total  int    // how many messages the call published
	Err    error  // the first failure
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("kafka: publish %q: %d of %d messages not acknowledged, first %s: %v",
		e.Key, e.Failed, e.Total, e.UUID, e.Err)
}

// Unwrap returns the first failure.
func (e *PublishError) Unwrap() error { return e.Err }
