package kafka_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradebus/tradebus/transport"
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan *message.Message, 1)
	done := make(chan error, 1)
	go func() {
		done <- transport.Follow(ctx, tr, kind+".#", transport.FromBeginning(), func(m *message.Message) bool {
			got <- m
			return true
		})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for asked.Load() < 2 {
		select {
		case err := <-done:
			t.Fatalf("Follow returned %v before the topic existed", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the follower to ask for the topic twice")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	m := newMsg("K", "first")
	publish(t, tr, kind+".x.K", m)
	select {
	case g := <-got:
		t.Logf("passed %s after publish started", time.Since(t0))
		if g.UUID != m.UUID {
			t.Fatalf("Follow passed %s, want %s", g.UUID, m.UUID)
		}
	case err := <-done:
		t.Fatalf("Follow returned %v before the topic existed", err)
	case <-time.After(waitLimit):
		t.Fatal("Follow did not pass the record published after it started")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		t.Logf("Follow returned %s after cancel", time.Since(start))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Follow did not return after cancel")
	}
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
