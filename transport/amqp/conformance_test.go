package amqp_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// TestConformance runs tradebus' transport conformance suite against the
// real broker. Capabilities, honestly:
//   - ParallelKeys: the core hands out up to WithConcurrency keys at once.
//   - ConsumerGroupShare: members of a group are competing consumers of
//     one queue; RabbitMQ round-robins between them.
//   - DurableGroups: durable queues keep messages while a group has no
//     member, and unacked messages return to the queue.
//   - OrderAfterNack: the core redelivers a nacked message in-process,
//     before any later message of its key.
//   - not OrderAcrossMembers: two consumers of one queue each hold some
//     messages of a key.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	transporttest.Run(t, func(t *testing.T) transport.Transport {
		// A short drain: the suite cancels subscriptions holding an
		// unacked message.
		return e.transport(t, transport.WithCloseTimeout(time.Second))
	}, transporttest.Capabilities{
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		DurableGroups:      true,
	})
}
