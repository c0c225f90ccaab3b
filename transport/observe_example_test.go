package transport_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// Logger, TLS and the OpenTelemetry providers are options of Open, for
// every transport; here an SDK span recorder and a manual metric reader
// stand in for the exporters a service would use.
func Example_observability() {
	ctx := context.Background()
	url := "mem://"
	logger := slog.New(slog.DiscardHandler)
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12} // for the broker client (mem has none)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	tr, _ := transport.Open(ctx, url,
		transport.WithLogger(logger), transport.WithTLSConfig(tlsCfg),
		transport.WithTracerProvider(tp), transport.WithMeterProvider(mp))
	defer tr.Close(ctx)

	pub, _ := publisher.New(tr.Publisher())
	sub, _ := tr.Subscriber("strategy")
	group, _ := subscriber.NewGroup(sub)
	handled := make(chan struct{})
	_ = subscriber.On(group, "trade.#", func(context.Context, events.Trade) error {
		close(handled)
		return nil
	})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- group.Run(runCtx) }()
	<-group.Running()
	_ = pub.Publish(ctx, events.Trade{Exchange: "binance", Symbol: "BTCUSDT", TradeID: "1",
		Price: events.MustDecimal("64250.1"), Amount: events.MustDecimal("0.5"), Side: events.SideBuy, Time: time.Now()})
	<-handled
	stop()
	<-ran

	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name()+" ("+s.SpanKind().String()+")")
	}
	slices.Sort(names)
	fmt.Println(names)
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && sum.IsMonotonic {
			fmt.Println(m.Name, sum.DataPoints[0].Value)
		}
	}
	// Unordered output:
	// [process trade (consumer) send trade (producer)]
	// tradebus.messages.published 1
	// tradebus.messages.handled 1
}
