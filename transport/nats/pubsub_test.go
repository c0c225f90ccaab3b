package nats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestPubSub runs Watermill's universal Pub/Sub suite against the real
// NATS JetStream. Features are what the transport guarantees: consumer
// groups (durable consumers), persistence, and order (all suite messages
// share the empty partition key, so they are handed out one at a time)
// with a single subscriber per group; not exactly-once.
func TestPubSub(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	opts := []nats.Option{
		nats.WithPrefix(prefix),
		nats.WithStorage(nats.MemoryStorage),
		nats.WithPullWait(100 * time.Millisecond),
		// Bounds the rare redelivery after AckWait seen under heavy load
		// (see the package doc's known limits).
		nats.WithAckWait(5 * time.Second),
	}
	core := []transport.Option{
		// TestContinueAfterErrors nacks one message 300 times in a row.
		transport.WithRedeliveryBackoff(time.Millisecond, 10*time.Millisecond),
		// The suite's multiplier holds (and never acks) duplicates it read
		// after the test stopped reading, and closes its 50 subscribers one
		// after the other: do not wait long for those acks.
		transport.WithCloseTimeout(500 * time.Millisecond),
	}
	pubSub := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		tr := newTransportWith(t, nc, core, opts...)
		sub, err := tr.NewSubscriber(group)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Publisher(), suiteSubscriber{sub}
	}
	tests.TestPubSub(t,
		tests.Features{
			ConsumerGroups:                      true,
			ExactlyOnceDelivery:                 false,
			GuaranteedOrder:                     true,
			GuaranteedOrderWithSingleSubscriber: true,
			Persistent:                          true,
		},
		func(t *testing.T) (message.Publisher, message.Subscriber) { return pubSub(t, "suite") },
		pubSub,
	)
}

// suiteSubscriber is the core's Subscriber for Watermill's suite, whose
// closePubSub requires Close to return nil also when it closes a
// subscriber with a message still out (TestMessageCtx): the core's Close
// then reports that the drain was cut short by the close timeout and the
// message given back to JetStream, which is not a failure here.
type suiteSubscriber struct{ *transport.Subscriber }

func (s suiteSubscriber) Close() error {
	if err := s.Subscriber.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
