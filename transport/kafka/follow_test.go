package kafka_test

import (
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// TestFollowWaitsForTopic: Follow of a kind whose topic does not exist
// yet keeps looking for it (the cluster sees its metadata requests for
// the topic come again), and passes the first record published once the
// publish creates it; cancelling its ctx ends it with context.Canceled.
func TestFollowWaitsForTopic(t *testing.T) {
	c := kafkatest.NewCluster(t)
	tr := newTransport(t, c.Brokers())
	kind := randomName("f")
	topic := tr.Topic(kind)
	var asked atomic.Int32 // metadata requests naming topic
	c.Kfake().ControlKey(int16(kmsg.Metadata), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake().KeepControl()
		for _, rt := range r.(*kmsg.MetadataRequest).Topics {
			if rt.Topic != nil && *rt.Topic == topic {
				asked.Add(1)
			}
		}
		return nil, nil, false
	})
	brokertest.FollowWaitsForStream(t, tr, kind, "topic", func() bool { return asked.Load() >= 2 })
}

// BenchmarkLatency measures one message's round trip from Publish to a
// transport.Follow and, for comparison, to a subscription
// (brokertest.BenchLatency), on the embedded cluster.
func BenchmarkLatency(b *testing.B) {
	brokers := testBrokers(b)
	for _, reader := range []string{"follow", "subscribe"} {
		b.Run(reader, func(b *testing.B) {
			brokertest.BenchLatency(b, newTransport(b, brokers), reader)
		})
	}
}
