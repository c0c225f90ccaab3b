package mem_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

// TestWatermillUniversal runs Watermill's own Pub/Sub conformance suite.
//
// The suite calls its constructors many times per test and expects
// messages published through one returned pair to reach subscribers of
// another (TestConcurrentClose, TestContinueAfterSubscribeClose …). Those
// pairs are clients; the broker is the *transport.Portable, one per test (keyed
// by the test's *testing.T), as a real broker is one per test there.
func TestWatermillUniversal(t *testing.T) {
	var (
		mu  sync.Mutex
		trs = map[*testing.T]*transport.Portable{}
	)
	broker := func(t *testing.T) *transport.Portable {
		mu.Lock()
		defer mu.Unlock()
		if tr, ok := trs[t]; ok {
			return tr
		}
		tr := newMem(t,
			// The suite publishes up to 10,000 messages before it
			// subscribes; a smaller buffer would (correctly) block it.
			mem.WithBuffer(16384),
			// TestContinueAfterErrors nacks one message 300 times in a
			// row; with the default backoff (10ms doubling to 1s) that
			// takes minutes, far over the suite's 15 s read timeout.
			mem.WithRedeliveryBackoff(time.Millisecond, 5*time.Millisecond),
			// TestMessageCtx closes a subscriber holding a message and
			// waits for its ctx to end: Close drains up to this long.
			mem.WithTransportOptions(transport.WithCloseTimeout(time.Second)),
		)
		trs[t] = tr
		t.Cleanup(func() {
			mu.Lock()
			delete(trs, t)
			mu.Unlock()
		})
		return tr
	}
	pubSub := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		tr := broker(t)
		sub, err := tr.Subscriber(group)
		if err != nil {
			t.Fatalf("Subscriber(%q): %v", group, err)
		}
		return tr.Publisher(), sub
	}
	tests.TestPubSub(t,
		tests.Features{
			ConsumerGroups: true,
			// At-least-once: a nacked message, or one its member left
			// unacked, is delivered again.
			ExactlyOnceDelivery: false,
			// Order holds per partition key within a group; the suite's
			// messages carry no "partitionkey", so they are all one key.
			GuaranteedOrder: true,
			// The queue (group + pattern) outlives its subscribers for the
			// Transport's lifetime, so a new subscriber of the group gets
			// what was published meanwhile and what an earlier one left
			// unacked. Nothing survives the process (or Transport.Close).
			Persistent: true,
			// Constructors return clients of one in-process broker.
			RequireSingleInstance: true,
			// A consumed message is gone; a new group does not see old
			// messages.
			NewSubscriberReceivesOldMessages: false,
			// Like a real broker, a delivery gets a fresh context (derived
			// from the Subscribe ctx), not the publisher's.
			ContextPreserved: false,
		},
		func(t *testing.T) (message.Publisher, message.Subscriber) { return pubSub(t, "watermill") },
		pubSub,
	)
}
