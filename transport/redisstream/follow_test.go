package redisstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport"
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan *message.Message, 1)
	done := make(chan error, 1)
	go func() {
		done <- transport.Follow(ctx, tr, "trade.#", transport.FromBeginning(), func(m *message.Message) bool {
			got <- m
			return true
		})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for blocked := false; !blocked; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("Follow returned %v before the stream existed", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the follower to block in XREAD")
		}
		list, err := c.ClientList(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name="+opts.ClientName+" ") && strings.Contains(line, " cmd=xread ") &&
				strings.Contains(line, " flags=b ") {
				blocked = true
			}
		}
	}
	m := message.NewMessage("follow-first", []byte("first"))
	m.Metadata.Set("partitionkey", "K")
	t0 := time.Now()
	if err := tr.Publisher().Publish("trade.x.K", m); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		t.Logf("passed %s after publish started", time.Since(t0))
		if g.UUID != m.UUID {
			t.Fatalf("Follow passed %s, want %s", g.UUID, m.UUID)
		}
	case err := <-done:
		t.Fatalf("Follow returned %v before the stream existed", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Follow did not pass the entry published after it started")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		t.Logf("Follow returned %s after cancel (block %s)", time.Since(start), block)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Follow did not return after cancel")
	}
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
