package nats_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/nats"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// TestConformance runs the tradebus conformance suite against the real
// NATS JetStream. Capabilities, honestly: keys run in parallel; a nacked
// message goes back to JetStream, which redelivers it after the backoff
// while later messages of its key go on (no OrderAfterNack); members of a
// group pull from one durable consumer and share it, without key order
// across members; groups are durable consumers, and a cancelled member's
// messages are NAKed back at once.
func TestConformance(t *testing.T) {
	nc := connect(t)
	caps := transporttest.Capabilities{
		ParallelKeys:       true,
		OrderAfterNack:     false,
		ConsumerGroupShare: true,
		OrderAcrossMembers: false,
		DurableGroups:      true,
		Timeout:            15 * time.Second,
	}
	newTr := func(opts ...nats.Option) func(t *testing.T) transport.Transport {
		return func(t *testing.T) transport.Transport {
			prefix := uniquePrefix(t, nc)
			return newTransport(t, nc, append([]nats.Option{nats.WithPrefix(prefix), nats.WithPullWait(100 * time.Millisecond)}, opts...)...)
		}
	}
	t.Run("default", func(t *testing.T) {
		transporttest.Run(t, newTr(), caps)
	})
	t.Run("concurrency=1", func(t *testing.T) {
		caps := caps
		caps.ParallelKeys = false
		transporttest.Run(t, newTr(nats.WithConcurrency(1)), caps)
	})
}
