package projection_test

import (
	"context"
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/transport"
)

var benchEvents = flag.Int("rebuild.events", 5000, "BenchmarkRebuild: events in the history rebuilt")

// BenchmarkRebuild rebuilds the test projection (tally, MemStore, the
// default SnapshotEvery) from scratch until it has caught up with a
// history of -rebuild.events trades published once per transport, and
// reports events/s. mem runs when it keeps history (mem://?history=N);
// Kafka on an in-process kfake cluster unless TRADEBUS_TEST_KAFKA_BROKERS
// is set; Redis and NATS when TRADEBUS_TEST_REDIS_URL and
// TRADEBUS_TEST_NATS_URL are. For the rebuild against the broker's raw
// client in the same run: go run ./cmd/tradebus-bench -suite rebuild.
func BenchmarkRebuild(b *testing.B) {
	n := *benchEvents
	for _, tc := range historyTransports {
		b.Run(tc.name, func(b *testing.B) {
			if tc.name == "mem" {
				skipWithoutMemHistory(b)
			}
			tr := open(b, brokerURL(b, tc.name, tc.env))
			publish(b, tr, 0, n)
			w := want(b, n)
			cfg := config(nil)
			cfg.SnapshotEvery = 0 // the default
			cfg.Logger = slog.New(slog.DiscardHandler)
			b.ReportAllocs()
			b.ResetTimer()
			rebuilds := 0
			for b.Loop() {
				cfg.Store = &projection.MemStore{}
				p, err := projection.New(tr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() { errc <- p.Run(ctx) }()
				select {
				case <-p.CaughtUp():
				case err := <-errc:
					cancel()
					b.Fatalf("Run returned %v before catching up", err)
				}
				if got := p.Applied(); got != uint64(n) {
					cancel()
					b.Fatalf("caught up having applied %d of %d events", got, n)
				}
				b.StopTimer()
				cancel()
				if err := <-errc; err != nil {
					b.Fatalf("Run: %v", err)
				}
				if got := view(p); got.Count != w.Count || !got.Notional.Equal(w.Notional) || len(got.Wrong) > 0 {
					b.Fatalf("rebuilt state %d events, notional %s, out of sequence %v; want %d, %s",
						got.Count, got.Notional, got.Wrong, w.Count, w.Notional)
				}
				rebuilds++
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(n*rebuilds)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*rebuilds), "ns/event")
		})
	}
}

// skipWithoutMemHistory skips b when mem keeps no history on this build.
func skipWithoutMemHistory(b *testing.B) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, memURL)
	if err != nil {
		b.Skipf("mem keeps no history here: %v", err)
	}
	_ = tr.Close(ctx)
}
