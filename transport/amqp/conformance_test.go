package amqp_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// TestConformance runs tradebus' transport conformance suite against the
// real broker. Capabilities, honestly:
//   - ParallelKeys: up to WithConcurrency keys in flight per subscription.
//   - ConsumerGroupShare: members of a group are competing consumers of
//     one queue; RabbitMQ round-robins between them.
//   - DurableGroups: durable queues keep messages while a group has no
//     member, and unacked messages return to the queue.
//   - not OrderAfterNack: a nacked message goes back to the queue while
//     later messages of its key were already prefetched.
//   - not OrderAcrossMembers: two consumers of one queue each hold some
//     messages of a key.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	transporttest.Run(t, func(t *testing.T) transport.Transport {
		// A short drain: the suite cancels subscriptions holding an
		// unacked message.
		return e.transport(t, amqp.WithDrainTimeout(time.Second))
	}, transporttest.Capabilities{
		ParallelKeys:       true,
		ConsumerGroupShare: true,
		DurableGroups:      true,
	})
}
