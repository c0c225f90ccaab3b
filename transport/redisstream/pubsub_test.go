package redisstream_test

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// TestPubSub runs Watermill's universal Pub/Sub suite against the real
// Redis. Features are what the transport guarantees: consumer groups,
// persistence, and order (all suite messages share the empty partition
// key, so they are handed out one at a time) with a single subscriber per
// group; not exactly-once.
func TestPubSub(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	opts := []redisstream.Option{
		redisstream.WithPrefix(prefix),
		// Entries left pending by a closed subscriber are claimed by the
		// next one after this idle time; the suite waits 15s at most.
		redisstream.WithClaimIdle(2 * time.Second),
		// The suite closes 50 subscribers one after the other; each close
		// waits for its reader's blocking read.
		redisstream.WithBlock(50 * time.Millisecond),
	}
	topts := []transport.Option{
		// TestContinueAfterErrors nacks one message 300 times in a row.
		transport.WithRedeliveryBackoff(time.Millisecond, 10*time.Millisecond),
		// The suite's multiplier holds (and never acks) duplicates it read
		// after the test stopped reading, and closes its 50 subscribers one
		// after the other: do not wait long for those acks.
		transport.WithCloseTimeout(500 * time.Millisecond),
	}
	pubSub := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		tr := newTransportWith(t, c, topts, opts...)
		sub, err := tr.Subscriber(group)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Publisher(), sub
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
