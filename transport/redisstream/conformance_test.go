package redisstream_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// TestConformance runs the tradebus conformance suite against the real
// Redis. Capabilities, honestly: keys run in parallel; a nacked message is
// redelivered in its lane before later messages of its key (by the core);
// members of a group share the stream but each reads its own entries, so
// key order does not hold across members; groups are durable (consumer
// groups persist, and a cancelled member's pending entries go to the next
// member: at once within this driver, which reuses the consumer name, or
// by the next claim pass, because given-back entries are made idle).
func TestConformance(t *testing.T) {
	c := newClient(t)
	caps := transporttest.Capabilities{
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		OrderAcrossMembers: false,
		DurableGroups:      true,
		Timeout:            15 * time.Second,
		URL:                brokertest.URL(t, envRedisURL),
	}
	newTr := func(topts ...transport.Option) func(t *testing.T) transport.Transport {
		return func(t *testing.T) transport.Transport {
			prefix := uniquePrefix(t, c)
			return newTransportWith(t, c, topts, redisstream.WithPrefix(prefix), redisstream.WithBlock(200*time.Millisecond))
		}
	}
	t.Run("default", func(t *testing.T) {
		transporttest.Run(t, newTr(), caps)
	})
	t.Run("concurrency=1", func(t *testing.T) {
		caps := caps
		caps.ParallelKeys = false
		transporttest.Run(t, newTr(transport.WithConcurrency(1)), caps)
	})
}
