package transporttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/codes"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/mem" // the downstream service's bus
)

// Observability is what RunObservability needs: a tracer and meter
// provider wired to a span recorder and a Prometheus registry served over
// HTTP, as a service would.
type Observability struct {
	Spans   *tracetest.SpanRecorder
	Tracer  *sdktrace.TracerProvider
	Meter   *sdkmetric.MeterProvider
	Metrics string // URL of the /metrics endpoint
}

// NewObservability returns providers recording into t's own span recorder
// and Prometheus registry (OpenTelemetry's Prometheus exporter, served by
// promhttp), shut down at cleanup.
func NewObservability(t testing.TB) *Observability {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatalf("prometheus exporter: %v", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(func() {
		srv.Close()
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return &Observability{Spans: rec, Tracer: tp, Meter: mp, Metrics: srv.URL + "/metrics"}
}

// Options are the transport options that wire o in.
func (o *Observability) Options() []transport.Option {
	return []transport.Option{transport.WithTracerProvider(o.Tracer), transport.WithMeterProvider(o.Meter)}
}

// Scrape reads the /metrics endpoint and parses it with expfmt.
func (o *Observability) Scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(o.Metrics)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return mfs
}

// Value returns the sum of the samples of family name whose labels include
// every label in want (counter, gauge or untyped value; a histogram's
// sample count).
func Value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// RunObservability checks tracing and metrics of the transport that
// newTransport opens with the options it is given (append them to the
// driver's test options), against a downstream service on a mem
// transport:
//
//   - a gateway publishes trades (one pipelined batch, plus one event id
//     published twice); group A (subscriber.Group, the fast path, under
//     middleware.Default) handles them — one fails once (retry), one fails
//     for good (dead letter), the twice-published one is a duplicate the
//     second time — and publishes a signal per trade to the mem transport,
//     where group B (a Watermill router) handles them; group C (a
//     Watermill router) handles the trades too and fails one once (a core
//     redelivery);
//   - the counters on the exporter's /metrics equal what was published,
//     handled, failed, retried, dead-lettered and skipped, per transport,
//     group and event type; histograms counted every delivery; nothing is
//     in flight at the end; no label holds a routing key or symbol;
//   - the spans form one trace per trade: gateway → send trade → process
//     trade (group A) → send signal (mem) → process signal (group B), with
//     the messaging attributes, and the retry, dead-letter, duplicate and
//     redelivery span events where they happened.
func RunObservability(t *testing.T, newTransport func(t *testing.T, opts ...transport.Option) transport.Transport, timeout time.Duration) {
	t.Helper()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	obs := NewObservability(t)
	tr := newTransport(t, obs.Options()...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	defer cancel()
	down, err := transport.Open(ctx, "mem://", obs.Options()...)
	if err != nil {
		t.Fatalf("open mem: %v", err)
	}
	t.Cleanup(func() { _ = down.Close(context.Background()) })
	system := systemOf(t, tr)

	gA, gB, gC := UniqueName("obs-a-"), UniqueName("obs-b-"), UniqueName("obs-c-")
	quiet := slog.New(slog.DiscardHandler)

	// Group A: fast path, reliability stack, publishes a signal per trade
	// to the downstream transport.
	signals, err := publisher.New(down.Publisher(), publisher.WithSource("/strategy"))
	if err != nil {
		t.Fatal(err)
	}
	stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(gA), middleware.WithLogger(quiet),
		middleware.WithBackoff(time.Millisecond, 2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	subA, err := tr.Subscriber(gA)
	if err != nil {
		t.Fatal(err)
	}
	groupA, err := subscriber.NewGroup(subA, stack.Middlewares()...)
	if err != nil {
		t.Fatal(err)
	}
	var handledA, handledB, handledC atomic.Int64
	var flaky, failC atomic.Bool
	err = subscriber.On(groupA, "trade.#", func(ctx context.Context, tr events.Trade) error {
		switch tr.TradeID {
		case "poison":
			return middleware.Permanent(errors.New("cannot price this trade"))
		case "flaky":
			if flaky.CompareAndSwap(false, true) {
				return errors.New("price feed busy")
			}
		}
		if err := signals.Publish(ctx, events.Signal{Strategy: "obs", Exchange: tr.Exchange, Symbol: tr.Symbol,
			Action: events.SignalBuy, Strength: events.MustDecimal("0.5"), Time: tr.Time}); err != nil {
			return err
		}
		handledA.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Groups B (downstream signals) and C (trades): Watermill router.
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: timeout}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	subB, err := down.Subscriber(gB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subscriber.Handle(router, subB, "signal.#", func(context.Context, events.Signal) error {
		handledB.Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	subC, err := tr.Subscriber(gC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subscriber.Handle(router, subC, "trade.#", func(_ context.Context, tr events.Trade) error {
		if tr.TradeID == "t1" && failC.CompareAndSwap(false, true) {
			return errors.New("not yet")
		}
		handledC.Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = router.Run(runCtx) }()
	go func() { defer wg.Done(); _ = groupA.Run(runCtx) }()
	defer func() {
		stop()
		_ = router.Close()
		wg.Wait()
	}()
	for _, running := range []<-chan struct{}{router.Running(), groupA.Running()} {
		select {
		case <-running:
		case <-ctx.Done():
			t.Fatal("handlers not running")
		}
	}

	// The gateway.
	gateway, err := publisher.New(tr.Publisher(), publisher.WithSource("/gateway"))
	if err != nil {
		t.Fatal(err)
	}
	tctx, root := obs.Tracer.Tracer("transporttest").Start(ctx, "gateway")
	trade := func(id string) events.Trade {
		return events.Trade{Exchange: "binance", Symbol: "BTCUSDT", TradeID: id, Price: events.MustDecimal("64250.1"),
			Amount: events.MustDecimal("0.5"), Side: events.SideBuy, Time: time.Now()}
	}
	if err := gateway.Publish(tctx, trade("t1"), trade("t2"), trade("t3"), trade("flaky"), trade("poison")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	dup, err := gateway.NewMessage(tctx, trade("dup"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := tr.Publisher().Publish(dup.Metadata[events.MetaRoutingKey], dup); err != nil {
			t.Fatalf("publish dup: %v", err)
		}
	}
	root.End()
	traceID := root.SpanContext().TraceID()

	waitUntil(t, ctx, "every handler ran", func() string {
		if a, b, c := handledA.Load(), handledB.Load(), handledC.Load(); a != 5 || b != 5 || c != 7 {
			return fmt.Sprintf("handled A %d of 5, B %d of 5, C %d of 7", a, b, c)
		}
		return ""
	})

	// Metrics, as the exporter serves them.
	trade1, signal1 := events.TypeTrade, events.TypeSignal
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		// 5 + the duplicate twice + the dead letter (a copy of the trade).
		{"tradebus_messages_published_total", map[string]string{"messaging_system": system, "tradebus_event_type": trade1}, 8},
		{"tradebus_messages_published_total", map[string]string{"messaging_system": "mem", "tradebus_event_type": signal1}, 5},
		{"tradebus_messages_publish_failed_total", nil, 0},
		{"tradebus_messages_handled_total", map[string]string{"messaging_system": system, "messaging_consumer_group_name": gA, "tradebus_event_type": trade1}, 7},
		{"tradebus_messages_handled_total", map[string]string{"messaging_system": system, "messaging_consumer_group_name": gC, "tradebus_event_type": trade1}, 7},
		{"tradebus_messages_handled_total", map[string]string{"messaging_system": "mem", "messaging_consumer_group_name": gB, "tradebus_event_type": signal1}, 5},
		{"tradebus_messages_failed_total", map[string]string{"messaging_consumer_group_name": gA}, 0},
		{"tradebus_messages_failed_total", map[string]string{"messaging_system": system, "messaging_consumer_group_name": gC, "tradebus_event_type": trade1}, 1},
		{"tradebus_messages_retried_total", map[string]string{"messaging_system": system, "messaging_consumer_group_name": gA, "tradebus_event_type": trade1}, 1},
		{"tradebus_messages_dead_lettered_total", map[string]string{"messaging_system": system, "messaging_consumer_group_name": gA, "tradebus_event_type": trade1}, 1},
		{"tradebus_messages_duplicates_skipped_total", map[string]string{"messaging_system": system, "messaging_consumer_group_name": gA, "tradebus_event_type": trade1}, 1},
		{"tradebus_messages_in_flight", nil, 0},
		// Every handler run: A 7, C 8 (one failed), B 5.
		{"tradebus_handler_duration_seconds", map[string]string{"messaging_consumer_group_name": gA}, 7},
		{"tradebus_handler_duration_seconds", map[string]string{"messaging_consumer_group_name": gC}, 8},
		{"tradebus_handler_duration_seconds", map[string]string{"messaging_consumer_group_name": gB}, 5},
		// First deliveries only: A 7, C 7, B 5.
		{"tradebus_delivery_latency_seconds", map[string]string{"messaging_consumer_group_name": gC}, 7},
		{"tradebus_delivery_latency_seconds", nil, 19},
	}
	var mfs map[string]*dto.MetricFamily
	waitUntil(t, ctx, "metrics", func() string {
		mfs = obs.Scrape(t)
		var diff []string
		for _, w := range want {
			if got := Value(mfs, w.name, w.labels); got != w.value {
				diff = append(diff, fmt.Sprintf("%s%v = %v, want %v", w.name, w.labels, got, w.value))
			}
		}
		return strings.Join(diff, "\n")
	})
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "tradebus_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "BTCUSDT") || strings.Contains(l.GetValue(), "binance") {
					t.Errorf("%s has label %s=%q: routing keys and symbols must stay out of labels", name, l.GetName(), l.GetValue())
				}
			}
		}
	}

	// Traces.
	var spans []sdktrace.ReadOnlySpan
	waitUntil(t, ctx, "spans", func() string {
		spans = obs.Spans.Ended()
		n := 0
		for _, s := range spans {
			if s.Name() == "process signal" {
				n++
			}
		}
		if n < 5 {
			return fmt.Sprintf("%d process signal spans of 5", n)
		}
		return ""
	})
	checkTraces(t, spans, traceID, system, gA, gB, gC)
}

// systemOf returns the messaging.system value of tr's driver.
func systemOf(t *testing.T, tr transport.Transport) string {
	p, ok := tr.(portableTransport)
	if !ok {
		t.Fatalf("%T does not run on the portable core (transport.New)", tr)
	}
	return transport.MessagingSystem(p.Driver().Capabilities().Name)
}

// checkTraces checks the span tree of RunObservability.
func checkTraces(t *testing.T, spans []sdktrace.ReadOnlySpan, traceID trace.TraceID, system, gA, gB, gC string) {
	t.Helper()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	attr := func(s sdktrace.ReadOnlySpan, k string) string {
		for _, a := range s.Attributes() {
			if string(a.Key) == k {
				return a.Value.Emit()
			}
		}
		return ""
	}
	parent := func(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
		if s == nil || !s.Parent().IsValid() {
			return nil
		}
		return byID[s.Parent().SpanID()]
	}
	expect := func(s sdktrace.ReadOnlySpan, name string, kind trace.SpanKind, kv map[string]string) bool {
		t.Helper()
		if s == nil {
			t.Errorf("missing parent span %q", name)
			return false
		}
		ok := true
		if s.Name() != name || s.SpanKind() != kind {
			t.Errorf("span %q (%v), want %q (%v)", s.Name(), s.SpanKind(), name, kind)
			ok = false
		}
		if s.SpanContext().TraceID() != traceID {
			t.Errorf("span %q in trace %s, want the gateway's %s", s.Name(), s.SpanContext().TraceID(), traceID)
			ok = false
		}
		for k, v := range kv {
			if got := attr(s, k); got != v {
				t.Errorf("span %q: %s = %q, want %q", s.Name(), k, got, v)
				ok = false
			}
		}
		return ok
	}
	chains := 0
	for _, s := range spans {
		if s.Name() != "process signal" {
			continue
		}
		chains++
		if !expect(s, "process signal", trace.SpanKindConsumer, map[string]string{
			"messaging.system": "mem", "messaging.operation.type": "process", "messaging.consumer.group.name": gB,
			"messaging.destination.subscription.name": "signal.#", "tradebus.event.type": events.TypeSignal,
		}) {
			continue
		}
		send := parent(s)
		if !expect(send, "send signal", trace.SpanKindProducer, map[string]string{
			"messaging.system": "mem", "messaging.operation.type": "send",
			"messaging.message.id":       attr(s, "messaging.message.id"),
			"messaging.destination.name": attr(s, "messaging.destination.name"),
		}) {
			continue
		}
		proc := parent(send)
		if !expect(proc, "process trade", trace.SpanKindConsumer, map[string]string{
			"messaging.system": system, "messaging.operation.type": "process", "messaging.consumer.group.name": gA,
			"messaging.destination.name": "trade.binance.BTCUSDT",
		}) {
			continue
		}
		pub := parent(proc)
		if !expect(pub, "send trade", trace.SpanKindProducer, map[string]string{
			"messaging.system": system, "messaging.destination.name": "trade.binance.BTCUSDT",
			"messaging.message.id": attr(proc, "messaging.message.id"),
		}) {
			continue
		}
		if root := parent(pub); root == nil || root.Name() != "gateway" {
			t.Errorf("send trade %s: parent is not the gateway's span", attr(pub, "messaging.message.id"))
		}
	}
	if chains != 5 {
		t.Errorf("%d gateway → signal chains, want 5", chains)
	}
	// Span events where the middleware and the core acted.
	events := map[string]int{}
	for _, s := range spans {
		for _, ev := range s.Events() {
			key := ev.Name + " " + attr(s, "messaging.consumer.group.name")
			events[key]++
		}
		if s.Name() == "process trade" && attr(s, "messaging.consumer.group.name") == gC && s.Status().Code == codes.Error {
			events["error "+gC]++
		}
		if s.Name() == "send deadletter" {
			if p := parent(s); p == nil || p.Name() != "process trade" || attr(p, "messaging.consumer.group.name") != gA {
				t.Errorf("the dead letter's producer span is not a child of group A's consumer span")
			}
			events["send deadletter"]++
		}
	}
	for _, k := range []string{"tradebus.retry " + gA, "tradebus.dead_letter " + gA, "tradebus.duplicate_skipped " + gA,
		"tradebus.redelivery " + gC, "error " + gC, "send deadletter"} {
		if events[k] != 1 {
			t.Errorf("%q seen %d times, want 1 (all: %v)", k, events[k], events)
		}
	}
}

// waitUntil polls cond (which returns what is still missing, or "") until
// it holds or ctx ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() string) {
	t.Helper()
	for {
		missing := cond()
		if missing == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s", what, missing)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
