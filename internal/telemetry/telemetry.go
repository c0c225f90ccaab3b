// Package telemetry is what the transport core and the middleware share to
// report one delivery: the core puts a *Delivery into a handled message's
// context when the transport has a tracer or meter provider
// (transport.WithTracerProvider, transport.WithMeterProvider); the
// middleware reports retries, dead letters and skipped duplicates through
// it, as span events on the delivery's span and as counters labelled like
// the core's (transport, consumer group, event type). Without a Delivery in
// the context a report is only a span event on whatever span the context
// carries (none: nothing happens).
package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Span event names.
const (
	EventRetry       = "tradebus.retry"
	EventDeadLetter  = "tradebus.dead_letter"
	EventDuplicate   = "tradebus.duplicate_skipped"
	EventRedelivered = "tradebus.redelivery"
)

// Counters are the middleware's instruments; a nil counter is not counted.
type Counters struct {
	Retried      metric.Int64Counter
	DeadLettered metric.Int64Counter
	Duplicates   metric.Int64Counter
}

// Delivery is one handling of one message.
type Delivery struct {
	Counters *Counters // nil: no metrics
	// The delivery's metric attributes, as options (slices built once:
	// passing them with ... does not allocate).
	Add    []metric.AddOption
	Record []metric.RecordOption
}

type deliveryKey struct{}

// WithDelivery returns ctx carrying d.
func WithDelivery(ctx context.Context, d *Delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

// FromContext returns the Delivery in ctx, or nil.
func FromContext(ctx context.Context) *Delivery {
	d, _ := ctx.Value(deliveryKey{}).(*Delivery)
	return d
}

// Retried reports that the handler failed with err and will run again
// (attempt is the number of the failed attempt).
func Retried(ctx context.Context, attempt int, err error) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(EventRetry, trace.WithAttributes(
			attribute.Int("tradebus.attempt", attempt),
			attribute.String("exception.message", err.Error()),
		))
	}
	if d := FromContext(ctx); d != nil && d.Counters != nil && d.Counters.Retried != nil {
		d.Counters.Retried.Add(ctx, 1, d.Add...)
	}
}

// DeadLettered reports that the message went to the poison topic.
func DeadLettered(ctx context.Context, topic, class string, attempts int) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(EventDeadLetter, trace.WithAttributes(
			attribute.String("tradebus.poison_topic", topic),
			attribute.String("tradebus.poison_class", class),
			attribute.Int("tradebus.attempts", attempts),
		))
	}
	if d := FromContext(ctx); d != nil && d.Counters != nil && d.Counters.DeadLettered != nil {
		d.Counters.DeadLettered.Add(ctx, 1, d.Add...)
	}
}

// DuplicateSkipped reports that the message was acked without handling:
// its dedup key had been recorded before.
func DuplicateSkipped(ctx context.Context, key string) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(EventDuplicate, trace.WithAttributes(attribute.String("tradebus.dedup_key", key)))
	}
	if d := FromContext(ctx); d != nil && d.Counters != nil && d.Counters.Duplicates != nil {
		d.Counters.Duplicates.Add(ctx, 1, d.Add...)
	}
}
