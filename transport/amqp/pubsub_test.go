package amqp_test

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/tradebus/tradebus/transport"
)

// TestPubSub runs Watermill's universal Pub/Sub suite against the real
// broker. Features, honestly:
//   - ConsumerGroups: a group is a shared queue.
//   - GuaranteedOrder with a single subscriber: the suite's messages have
//     no partition key, i.e. one key, handed out one at a time in queue
//     order by the core (a nack is redelivered in-process, first).
//     Several subscribers of one queue do not keep order.
//   - Persistent: durable queues, persistent messages.
//   - not ExactlyOnceDelivery: at least once.
//   - no RestartServiceCommand: restarting the shared broker would disturb
//     other packages' tests; TestRestart covers it behind its own flag.
func TestPubSub(t *testing.T) {
	e := newEnv(t)
	newPubSub := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		// Short drain: the suite closes subscribers with unacked messages.
		// Short redelivery backoff: TestContinueAfterErrors nacks messages
		// hundreds of times in a row (the default 10ms doubling to 1s makes
		// that take minutes).
		tr := e.transport(t, transport.WithCloseTimeout(2*time.Second),
			transport.WithRedeliveryBackoff(time.Millisecond, 5*time.Millisecond))
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
		func(t *testing.T) (message.Publisher, message.Subscriber) { return newPubSub(t, "wm") },
		newPubSub,
	)
}
