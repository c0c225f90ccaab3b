package redisstream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// TestFollowWaitsForStream: Follow of a kind whose stream does not exist
// yet blocks in XREAD on the missing key (Redis shows the follower's
// connection blocked in xread), and passes the first entry as soon as a
// publish creates the stream; cancelling its ctx ends it with
// context.Canceled within WithBlock.
func TestFollowWaitsForStream(t *testing.T) {
	c := newClient(t)
	opts := *c.Options()
	opts.ClientName = "tbfollow" + brokertest.RandomSuffix()
	fc := redis.NewClient(&opts)
	t.Cleanup(func() { _ = fc.Close() })
	const block = 2 * time.Second
	tr := newTransport(t, fc, redisstream.WithPrefix(uniquePrefix(t, c)), redisstream.WithBlock(block))
	brokertest.FollowWaitsForStream(t, tr, "trade", "stream", func() bool {
		list, err := c.ClientList(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name="+opts.ClientName+" ") && strings.Contains(line, " cmd=xread ") &&
				strings.Contains(line, " flags=b ") {
				return true // blocked in XREAD
			}
		}
		return false
	})
}

// BenchmarkLatency measures one message's round trip from Publish to a
// transport.Follow and, for comparison, to a subscription
// (brokertest.BenchLatency).
func BenchmarkLatency(b *testing.B) {
	c := newClient(b)
	for _, reader := range []string{"follow", "subscribe"} {
		b.Run(reader, func(b *testing.B) {
			brokertest.BenchLatency(b, newTransport(b, c, redisstream.WithPrefix(uniquePrefix(b, c))), reader)
		})
	}
}
