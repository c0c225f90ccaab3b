package subscriber_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

// BenchmarkMemObserved is BenchmarkMemEndToEnd's typed-group (publish →
// mem → subscriber.Group) without and with instrumentation, allocations
// per event:
//
//   - off: no tracer or meter provider (the default): the same allocations
//     as before instrumentation existed;
//   - metrics: an OpenTelemetry SDK meter provider (manual reader);
//   - traces+metrics: and an SDK tracer provider sampling every span (no
//     exporter: the cost of making the spans).
func BenchmarkMemObserved(b *testing.B) {
	const symbols, batch = 16, 256
	evs := make([]events.Event, batch)
	for i := range evs {
		evs[i] = trade("binance", fmt.Sprintf("SYM%02d", i%symbols), strconv.Itoa(i))
	}
	run := func(b *testing.B, opts ...transport.Option) {
		tr, err := mem.New(mem.WithBuffer(1<<16), mem.WithTransportOptions(opts...))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = tr.Close(context.Background()) }()
		sub, err := tr.Subscriber("bench")
		if err != nil {
			b.Fatal(err)
		}
		g, err := subscriber.NewGroup(sub)
		if err != nil {
			b.Fatal(err)
		}
		var count atomic.Int64
		done := make(chan struct{})
		n := int64(b.N)
		if err := subscriber.On(g, "trade.#", func(context.Context, events.Trade) error {
			if count.Add(1) == n {
				close(done)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() { _ = g.Run(ctx); close(ran) }()
		defer func() { cancel(); <-ran }()
		<-g.Running()
		pub, err := publisher.New(tr.Publisher())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for sent := 0; sent < b.N; sent += batch {
			if err := pub.Publish(ctx, evs[:min(batch, b.N-sent)]...); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("off", func(b *testing.B) { run(b) })
	b.Run("metrics", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer func() { _ = mp.Shutdown(context.Background()) }()
		run(b, transport.WithMeterProvider(mp))
	})
	b.Run("traces+metrics", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		defer func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) }()
		run(b, transport.WithMeterProvider(mp), transport.WithTracerProvider(tp))
	})
}
