package transport_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
)

// lagGauge collects reader and returns tradebus.consumer.lag per
// (group, pattern).
func lagGauge(t *testing.T, reader *sdkmetric.ManualReader) map[[2]string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != transport.MetricLag {
				continue
			}
			for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				g, _ := dp.Attributes.Value("messaging.consumer.group.name")
				p, _ := dp.Attributes.Value("messaging.destination.subscription.name")
				out[[2]string{g.AsString(), p.AsString()}] = dp.Value
			}
		}
	}
	return out
}

// The consumer-lag gauge reports, at each collection, what each open
// subscription has not acked yet.
func TestLagGauge(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://", transport.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	if got := lagGauge(t, reader); len(got) != 0 {
		t.Fatalf("gauge without subscriptions: %v", got)
	}
	sub, err := tr.(*transport.Portable).NewSubscriber("risk")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	cctx, cancel := context.WithCancel(ctx)
	wait, err := sub.Consume(cctx, "trade.#", func(*message.Message) ([]*message.Message, error) {
		started <- struct{}{}
		<-release
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 { // one key: one in flight, four waiting behind it
		msg := message.NewMessage("m"+string(rune('a'+i)), []byte(`{}`))
		msg.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
		if err := tr.Publisher().Publish("trade.binance.BTCUSDT", msg); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	key := [2]string{"risk", "trade.#"}
	if got := lagGauge(t, reader); got[key] != 5 {
		t.Fatalf("gauge %v, want 5 unacked for %v", got, key)
	}
	close(release)
	for deadline := time.Now().Add(time.Minute); lagGauge(t, reader)[key] != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gauge %v, want 0 once all are handled", lagGauge(t, reader))
		}
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := lagGauge(t, reader); len(got) != 0 {
		t.Fatalf("gauge after the subscription ended: %v", got)
	}
}
