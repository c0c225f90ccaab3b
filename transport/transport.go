// Package transport defines the broker-neutral Transport and opens one from
// a URL.
package transport

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Transport is one broker connection. Its publisher takes the routing key as
// the Watermill topic; its subscribers take a subscription pattern ('*' one
// segment, '#' zero or more) as the Watermill topic.
//
// Implementations are safe for concurrent use.
type Transport interface {
	// Publisher returns the transport's publisher. Closing it is a no-op;
	// Close the transport instead.
	Publisher() message.Publisher
	// Subscriber returns a subscriber that consumes as consumer group
	// group: every group receives every matching event once, members of
	// one group share the load.
	Subscriber(group string) (message.Subscriber, error)
	// Ping checks the broker connection within ctx with a round trip
	// (a health check): nil means the broker answered. It returns
	// ErrClosed after Close.
	Ping(ctx context.Context) error
	// Close drains in-flight deliveries until ctx is done, then stops
	// every goroutine the transport started. It is idempotent.
	Close(ctx context.Context) error
}
