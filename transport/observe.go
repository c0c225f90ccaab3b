package transport

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/telemetry"
	"github.com/tradebus/tradebus/transport/driver"
)

// InstrumentationName is the name of the tracer and meter the transport
// gets from the providers (transport.WithTracerProvider,
// transport.WithMeterProvider).
const InstrumentationName = "github.com/tradebus/tradebus/transport"

// Metric names, as OpenTelemetry instruments. A Prometheus exporter
// spells them with underscores and the counters' _total suffix
// (tradebus_messages_published_total, tradebus_handler_duration_seconds).
// Every one carries messaging.system (the transport: "mem", "rabbitmq",
// "kafka", "redis", "nats") and tradebus.event.type (the envelope's type,
// e.g. "tradebus.trade.v1"); the consumer side also
// messaging.consumer.group.name. No routing key, symbol or message id: the
// label sets stay small.
const (
	MetricPublished     = "tradebus.messages.published"          // confirmed by the broker
	MetricPublishFailed = "tradebus.messages.publish_failed"     // not confirmed
	MetricHandled       = "tradebus.messages.handled"            // acked after the handler (and middleware) succeeded
	MetricFailed        = "tradebus.messages.failed"             // nacked: the handler failed (redelivered)
	MetricRetried       = "tradebus.messages.retried"            // retry middleware ran the handler again
	MetricDeadLettered  = "tradebus.messages.dead_lettered"      // poison middleware sent it to the poison topic
	MetricDuplicates    = "tradebus.messages.duplicates_skipped" // dedup middleware acked it without handling
	MetricInFlight      = "tradebus.messages.in_flight"          // with handlers now
	MetricHandlerTime   = "tradebus.handler.duration"            // seconds, handler and middleware
	MetricLatency       = "tradebus.delivery.latency"            // seconds, publish → handler start
	// MetricLag is a gauge per consumer group and pattern subscribed on
	// the transport: the messages stored for it and not yet acked
	// (transport.Lag's Unacked; where the broker reports only a part, the
	// parts it reports). Labels: messaging.system,
	// messaging.consumer.group.name, messaging.destination.subscription.name
	// (the pattern).
	MetricLag = "tradebus.consumer.lag"
)

// Attribute keys (OpenTelemetry messaging semantic conventions, plus
// tradebus.event.type).
const (
	attrSystem       = attribute.Key("messaging.system")
	attrDestination  = attribute.Key("messaging.destination.name")
	attrSubscription = attribute.Key("messaging.destination.subscription.name")
	attrOpType       = attribute.Key("messaging.operation.type")
	attrOpName       = attribute.Key("messaging.operation.name")
	attrMessageID    = attribute.Key("messaging.message.id")
	attrGroup        = attribute.Key("messaging.consumer.group.name")
	attrBodySize     = attribute.Key("messaging.message.body.size")
	attrDeliveries   = attribute.Key("messaging.message.delivery_count")
	attrEventType    = attribute.Key("tradebus.event.type")
)

// latencyBuckets (seconds) suit a message bus: 100µs to 10s.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// observer traces and measures one Portable. A Portable without tracer
// and meter provider has none (nil): every hook is one nil check, so an
// uninstrumented transport costs nothing per message.
type observer struct {
	tracer trace.Tracer // nil: no spans
	system attribute.KeyValue

	metrics                                   bool
	published, publishFailed, handled, failed metric.Int64Counter
	inFlight                                  metric.Int64UpDownCounter
	handlerTime, latency                      metric.Float64Histogram
	counters                                  telemetry.Counters

	sets sync.Map // setKey -> *telemetry.Delivery (attributes of a group and type)

	// meter is nil without a meter provider; the consumer-lag gauge
	// (registerLagGauge) is registered on it.
	meter metric.Meter
}

type setKey struct{ group, typ string }

// MessagingSystem returns the messaging.system attribute of the
// transport whose driver is named driverName (driver.Capabilities.Name):
// the semantic conventions' name where one exists ("rabbitmq", "kafka"),
// otherwise "redis", "nats", "mem".
func MessagingSystem(driverName string) string {
	switch driverName {
	case "amqp":
		return "rabbitmq"
	case "redisstream":
		return "redis"
	}
	return driverName
}

func newObserver(driverName string, tp trace.TracerProvider, mp metric.MeterProvider) (*observer, error) {
	if tp == nil && mp == nil {
		return nil, nil
	}
	o := &observer{system: attrSystem.String(MessagingSystem(driverName))}
	if tp != nil {
		o.tracer = tp.Tracer(InstrumentationName)
	}
	if mp == nil {
		return o, nil
	}
	m := mp.Meter(InstrumentationName)
	o.meter = m
	o.metrics = true
	msg := metric.WithUnit("{message}")
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, msg, metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	o.published = counter(MetricPublished, "Messages published and confirmed by the broker.")
	o.publishFailed = counter(MetricPublishFailed, "Messages whose publish failed (not confirmed by the broker).")
	o.handled = counter(MetricHandled, "Messages acked after their handler and middleware succeeded.")
	o.failed = counter(MetricFailed, "Handler runs that failed: the message is nacked and redelivered.")
	o.counters.Retried = counter(MetricRetried, "Handler attempts repeated by the retry middleware.")
	o.counters.DeadLettered = counter(MetricDeadLettered, "Messages the poison middleware sent to the poison topic.")
	o.counters.Duplicates = counter(MetricDuplicates, "Messages the dedup middleware acked without handling.")
	var err error
	o.inFlight, err = m.Int64UpDownCounter(MetricInFlight, msg, metric.WithDescription("Messages with handlers now."))
	errs = append(errs, err)
	o.handlerTime, err = m.Float64Histogram(MetricHandlerTime, metric.WithUnit("s"),
		metric.WithDescription("Time a message spends with its handler, middleware included."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	errs = append(errs, err)
	o.latency, err = m.Float64Histogram(MetricLatency, metric.WithUnit("s"),
		metric.WithDescription("Time from publish (the event id's UUIDv7 time) to the handler's start."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// set returns the metric attributes of (group, typ), built once.
func (o *observer) set(group, typ string) *telemetry.Delivery {
	k := setKey{group, typ}
	if d, ok := o.sets.Load(k); ok {
		return d.(*telemetry.Delivery)
	}
	kv := []attribute.KeyValue{o.system, attrEventType.String(typ)}
	if group != "" {
		kv = append(kv, attrGroup.String(group))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kv...))
	d := &telemetry.Delivery{Add: []metric.AddOption{opt}, Record: []metric.RecordOption{opt}}
	if o.metrics {
		d.Counters = &o.counters
	}
	v, _ := o.sets.LoadOrStore(k, d)
	return v.(*telemetry.Delivery)
}

// kind is the first segment of a routing key: the span name's destination
// (low cardinality, as the conventions ask).
func kind(key string) string {
	if i := strings.IndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return key
}

// startPublish starts a producer span per message, child of ctx's span,
// and writes its traceparent into a copy of the message's metadata. It
// returns the messages to send (copies when tracing) and the spans.
func (o *observer) startPublish(ctx context.Context, msgs []*driver.Message) ([]*driver.Message, []trace.Span) {
	if o.tracer == nil {
		return msgs, nil
	}
	out := make([]*driver.Message, len(msgs))
	spans := make([]trace.Span, len(msgs))
	traced := trace.SpanContextFromContext(ctx).IsValid()
	for i, dm := range msgs {
		pctx := ctx
		if !traced {
			// No span in ctx: continue the trace the message already
			// names (a replayed dead letter, a requeued retry, an event
			// published by a handler on an uninstrumented transport).
			if sc := extractTraceContext(dm.Metadata); sc.IsValid() {
				pctx = trace.ContextWithRemoteSpanContext(ctx, sc)
			}
		}
		sctx, span := o.tracer.Start(pctx, "send "+kind(dm.Key),
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(o.system, attrOpType.String("send"), attrOpName.String("publish"),
				attrDestination.String(dm.Key), attrMessageID.String(dm.UUID),
				attrEventType.String(dm.Metadata[events.MetaType]), attrBodySize.Int(len(dm.Payload))))
		cp := *dm
		cp.Metadata = make(map[string]string, len(dm.Metadata)+2)
		maps.Copy(cp.Metadata, dm.Metadata)
		injectTraceContext(trace.SpanContextFromContext(sctx), cp.Metadata)
		out[i], spans[i] = &cp, span
	}
	return out, spans
}

// endPublish ends the spans of startPublish and counts the messages as
// published or failed by err (a *driver.SendError names the failed ones).
func (o *observer) endPublish(ctx context.Context, msgs []*driver.Message, spans []trace.Span, err error) {
	var se *driver.SendError
	partial := errors.As(err, &se)
	for i, dm := range msgs {
		var merr error
		switch {
		case partial:
			merr = se.Failed[i]
		case err != nil:
			merr = err
		}
		if spans != nil {
			if merr != nil {
				spans[i].RecordError(merr)
				spans[i].SetStatus(codes.Error, merr.Error())
			}
			spans[i].End()
		}
		if o.metrics {
			attrs := o.set("", dm.Metadata[events.MetaType]).Add
			if merr != nil {
				o.publishFailed.Add(ctx, 1, attrs...)
			} else {
				o.published.Add(ctx, 1, attrs...)
			}
		}
	}
}

// sendObserved is sendBatch's send with producer spans and metrics.
func (t *Portable) sendObserved(ctx context.Context, msgs []*driver.Message) error {
	sent, spans := t.obs.startPublish(ctx, msgs)
	var err error
	if spans != nil && t.countsSizes() {
		// The traceparent added to the metadata counts too.
		for _, dm := range sent {
			if err = t.checkSize(dm); err != nil {
				break
			}
		}
	}
	if err == nil {
		if err = t.topic.SendBatch(ctx, sent); err != nil {
			err = fmt.Errorf("%s: publish %d messages: %w", t.caps.Name, len(msgs), err)
		}
	}
	t.obs.endPublish(ctx, sent, spans, err)
	return err
}

// startDelivery starts observing msg's handling and gives msg the
// handler's context (with the consumer span and telemetry.Delivery).
func (c *consumer) startDelivery(msg *message.Message, dm *driver.Message, attempt int) delivery {
	ctx, d := c.t.obs.startDelivery(msg.Context(), c.s.group, c.pattern, dm, attempt)
	msg.SetContext(ctx)
	return d
}

// endHandle ends a fast-path delivery: acked when err is nil.
func (d delivery) endHandle(err error) {
	if err != nil {
		d.end(nacked, err)
	} else {
		d.end(acked, nil)
	}
}

// endSend ends a channel delivery.
func (d delivery) endSend(ok, gone bool) {
	switch {
	case gone:
		d.end(abandoned, nil)
	case ok:
		d.end(acked, nil)
	default:
		d.end(nacked, nil)
	}
}

// delivery is one handling of a message: its consumer span (nil without a
// tracer), context, start time and attributes.
type delivery struct {
	o     *observer
	ctx   context.Context
	span  trace.Span
	start time.Time
	set   *telemetry.Delivery
}

// startDelivery starts the consumer span of dm (a child of the producer
// span named by its traceparent), counts it in flight and records its
// publish → handle latency on the first attempt. It returns the context
// for the handler: ctx with the span and the telemetry.Delivery the
// middleware report through.
func (o *observer) startDelivery(ctx context.Context, group, pattern string, dm *driver.Message, attempt int) (context.Context, delivery) {
	d := delivery{o: o, start: time.Now(), set: o.set(group, dm.Metadata[events.MetaType])}
	if o.tracer != nil {
		if sc := extractTraceContext(dm.Metadata); sc.IsValid() {
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
		attrs := []attribute.KeyValue{o.system, attrOpType.String("process"), attrOpName.String("process"),
			attrDestination.String(dm.Key), attrSubscription.String(pattern), attrGroup.String(group),
			attrMessageID.String(dm.UUID), attrEventType.String(dm.Metadata[events.MetaType]),
			attrBodySize.Int(len(dm.Payload))}
		if n := max(dm.Deliveries, attempt); n > 1 {
			attrs = append(attrs, attrDeliveries.Int(n))
		}
		ctx, d.span = o.tracer.Start(ctx, "process "+kind(dm.Key),
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
		if attempt > 1 {
			d.span.AddEvent(telemetry.EventRedelivered, trace.WithAttributes(attribute.Int("tradebus.attempt", attempt)))
		}
	}
	ctx = telemetry.WithDelivery(ctx, d.set)
	d.ctx = ctx
	if o.metrics {
		o.inFlight.Add(ctx, 1, d.set.Add...)
		if attempt == 1 {
			if t, ok := uuidV7Time(dm.UUID); ok {
				o.latency.Record(ctx, max(d.start.Sub(t), 0).Seconds(), d.set.Record...)
			}
		}
	}
	return ctx, d
}

// outcome of a delivery.
type outcome int

const (
	acked     outcome = iota // the handler succeeded
	nacked                   // the handler failed: redelivered
	abandoned                // the consumer stopped first: given back
)

// end ends the delivery with its outcome; err is the handler's, if known.
func (d delivery) end(out outcome, err error) {
	o, ctx := d.o, d.ctx
	if d.span != nil {
		switch out {
		case nacked:
			if err == nil {
				err = errors.New("nacked")
			}
			d.span.RecordError(err)
			d.span.SetStatus(codes.Error, err.Error())
		case abandoned:
			d.span.SetStatus(codes.Error, "given back to the broker: the subscription stopped")
		}
		d.span.End()
	}
	if !o.metrics {
		return
	}
	o.inFlight.Add(ctx, -1, d.set.Add...)
	o.handlerTime.Record(ctx, time.Since(d.start).Seconds(), d.set.Record...)
	switch out {
	case acked:
		o.handled.Add(ctx, 1, d.set.Add...)
	case nacked:
		o.failed.Add(ctx, 1, d.set.Add...)
	}
}

// uuidV7Time returns the time in a UUIDv7 string (as google/uuid writes
// it: milliseconds, then a 12-bit fraction of the millisecond in steps of
// 256ns), without allocating.
func uuidV7Time(s string) (time.Time, bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[14] != '7' {
		return time.Time{}, false
	}
	var ms, frac int64
	for i := 0; i < 18; i++ {
		if i == 8 || i == 13 || i == 14 {
			continue
		}
		c := s[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return time.Time{}, false
		}
		if i < 13 {
			ms = ms<<4 | int64(v)
		} else {
			frac = frac<<4 | int64(v)
		}
	}
	return time.UnixMilli(ms).Add(time.Duration(frac << 8)), true
}

// lagTimeout bounds the Lag call of one (group, pattern) during a metrics
// collection.
const lagTimeout = 5 * time.Second

// registerLagGauge registers MetricLag, observed at each collection for
// every (group, pattern) with a subscription open on t, when t has a meter
// and its driver reports lag. A Lag that fails is left out of that
// collection (and logged at debug level).
func (t *Portable) registerLagGauge() error {
	if t.obs == nil || t.obs.meter == nil {
		return nil
	}
	in, ok := t.d.(driver.Inspector)
	if !ok {
		return nil
	}
	g, err := t.obs.meter.Int64ObservableGauge(MetricLag, metric.WithUnit("{message}"),
		metric.WithDescription("Messages stored for a consumer group and pattern and not yet acked."))
	if err != nil {
		return err
	}
	t.lagGauge, err = t.obs.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		type pair struct{ group, pattern string }
		t.mu.Lock()
		pairs := make(map[pair]struct{}, len(t.consumers))
		for c := range t.consumers {
			pairs[pair{c.s.group, c.pattern}] = struct{}{}
		}
		t.mu.Unlock()
		for p := range pairs {
			lctx, cancel := context.WithTimeout(ctx, lagTimeout)
			lag, err := in.Lag(lctx, p.group, p.pattern)
			cancel()
			if err != nil {
				t.log.Debug("lag for the metrics gauge failed", "group", p.group, "pattern", p.pattern, "err", err)
				continue
			}
			n := lag.Unacked
			if n == driver.Unknown {
				n = max(lag.Pending, 0) + max(lag.InFlight, 0)
			}
			o.ObserveInt64(g, n, metric.WithAttributes(t.obs.system, attrGroup.String(p.group), attrSubscription.String(p.pattern)))
		}
		return nil
	}, g)
	return err
}
