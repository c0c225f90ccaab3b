package brokertest

import (
	"context"
	"testing"

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
