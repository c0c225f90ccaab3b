package redisstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
//
// The transports reach Redis through a proxy (c, the direct client, only
// makes names and cleans up), so that AsyncOutage and Ping can take Redis
// away from them (cut every connection, refuse new ones) and bring it
// back, without touching the shared server.
func TestConformance(t *testing.T) {
	c := newClient(t)
	p := brokertest.NewProxy(t, c.Options().Addr)
	opts := *c.Options()
	opts.Addr = p.Addr()
	viaProxy := redis.NewClient(&opts)
	t.Cleanup(func() { _ = viaProxy.Close() })
	caps := transporttest.Capabilities{
		KeepsHistory:       true,
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		OrderAcrossMembers: false,
		DurableGroups:      true,
		Timeout:            15 * time.Second,
		URL:                brokertest.URL(t, envRedisURL),
		Outage: func(*testing.T) func() {
			p.Cut()
			return p.Restore
		},
		GroupState: func(t *testing.T, tr transport.Transport, group, pattern string) bool {
			return groupExists(t, c, driverOf(t, tr.(*transport.Portable)).Stream(pattern), redisstream.GroupName(group, pattern))
		},
	}
	newTr := func(topts ...transport.Option) func(t *testing.T) transport.Transport {
		return func(t *testing.T) transport.Transport {
			prefix := uniquePrefix(t, c)
			return newTransportWith(t, viaProxy, topts, redisstream.WithPrefix(prefix), redisstream.WithBlock(200*time.Millisecond))
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

// groupExists asks Redis (XINFO GROUPS) whether stream has group.
func groupExists(t *testing.T, c *redis.Client, stream, group string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := c.XInfoGroups(ctx, stream).Result()
	if err != nil {
		t.Fatalf("XINFO GROUPS %s: %v", stream, err)
	}
	for _, g := range groups {
		if g.Name == group {
			return true
		}
	}
	return false
}
