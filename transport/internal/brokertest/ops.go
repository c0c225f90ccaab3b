package brokertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
)

// BenchOps measures tr's Ping and transport.Lag (sub-benchmarks "Ping"
// and "Lag") for a group prepared on pattern that holds 100 messages:
// what a health check and a lag gauge cost per call.
func BenchOps(b *testing.B, tr transport.Transport, pattern string) {
	b.Helper()
	group := "bench" + RandomSuffix()
	sub, err := tr.Subscriber(group)
	if err != nil {
		b.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize(pattern); err != nil {
		b.Fatal(err)
	}
	_ = sub.Close()
	payloads := make([]string, 100)
	for i := range payloads {
		payloads[i] = "x"
	}
	Publish(b, tr, events.Key(events.Kind(pattern), "venue", "BTCUSDT"), payloads...)
	ctx := context.Background()
	b.Run("Ping", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tr.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Lag", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := transport.Lag(ctx, tr, group, pattern); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Cleanup(func() { _ = transport.DeleteGroup(ctx, tr, group, pattern) })
}

// CheckLagFiltered prepares a group on "<kind>.a" + tail (tail ".*" or
// ".#"), publishes 3 events to "<kind>.a.X" and 2 to "<kind>.b.Y", and
// waits (up to timeout) until
// transport.Lag reports a backlog (Unacked, else Pending) of want: 3 where
// the broker filters by pattern, 5 where the group reads the whole kind
// and the pattern is applied in process.
func CheckLagFiltered(t testing.TB, tr transport.Transport, tail string, want int64, timeout time.Duration) {
	t.Helper()
	kind := "lag" + RandomSuffix()
	group, pattern := "g"+RandomSuffix(), kind+".a"+tail
	sub, err := tr.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize(pattern); err != nil {
		t.Fatal(err)
	}
	_ = sub.Close()
	Publish(t, tr, kind+".a.X", "1", "2", "3")
	Publish(t, tr, kind+".b.Y", "4", "5")
	var last transport.GroupLag
	waitUntil(t, timeout, fmt.Sprintf("a backlog of %d", want), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		l, err := transport.Lag(ctx, tr, group, pattern)
		if err != nil {
			t.Fatalf("Lag: %v", err)
		}
		last = l
		b := l.Unacked
		if b == transport.Unknown {
			b = l.Pending
		}
		return b == want
	})
	t.Logf("Lag: %+v", last)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Kafka keeps no state of a group that never joined.
	if err := transport.DeleteGroup(ctx, tr, group, pattern); err != nil && !errors.Is(err, transport.ErrGroupNotFound) {
		t.Errorf("DeleteGroup: %v", err)
	}
}
