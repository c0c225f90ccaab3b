package main

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/tradebus/tradebus/transport"
)

// observability is the run's tracing and metrics, wired into the
// transport with transport.WithTracerProvider and
// transport.WithMeterProvider (no global OpenTelemetry state).
type observability struct {
	Options    []transport.Option   // for transport.Open
	Meter      metric.MeterProvider // nil without -metrics; also the portfolio projection's
	Tracer     trace.TracerProvider // nil without -trace; also the portfolio projection's
	MetricsURL string               // "" without -metrics
	closers    []func(context.Context) error
}

// newObservability serves the transport's metrics in the Prometheus text
// format on metricsAddr (host:port; "" for none) at /metrics, and prints
// every span as JSON to spans (nil for none).
func newObservability(metricsAddr string, spans io.Writer) (*observability, error) {
	o := &observability{}
	res := resource.NewSchemaless(semconv.ServiceName("tradebus-trading"))
	if metricsAddr != "" {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, err
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
		o.closers = append(o.closers, mp.Shutdown)
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			_ = o.Close(context.Background())
			return nil, fmt.Errorf("-metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		served := make(chan struct{})
		go func() { defer close(served); _ = srv.Serve(ln) }()
		o.closers = append(o.closers, func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			<-served
			return err
		})
		o.MetricsURL = "http://" + ln.Addr().String() + "/metrics"
		o.Options = append(o.Options, transport.WithMeterProvider(mp))
		o.Meter = mp
	}
	if spans != nil {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(spans))
		if err != nil {
			_ = o.Close(context.Background())
			return nil, err
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		o.closers = append(o.closers, tp.Shutdown) // flushes the last spans
		o.Options = append(o.Options, transport.WithTracerProvider(tp))
		o.Tracer = tp
	}
	return o, nil
}

// Close stops the metrics server and flushes and stops the providers.
func (o *observability) Close(ctx context.Context) error {
	var err error
	for i := len(o.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, o.closers[i](ctx))
	}
	o.closers = nil
	return err
}

// observabilityFlags reads -metrics and -trace.
func observabilityFlags(metricsAddr, trace string, stdout io.Writer) (*observability, error) {
	var spans io.Writer
	switch trace {
	case "":
	case "stdout":
		spans = stdout
	default:
		return nil, fmt.Errorf("-trace %q: want stdout (or nothing)", trace)
	}
	return newObservability(metricsAddr, spans)
}
