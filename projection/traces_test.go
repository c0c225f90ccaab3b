package projection_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/transport"
)

// TestTraces: with a TracerProvider every event applied gets an "apply
// trade" consumer span, child of the span that sent it, and what Apply
// does with its ctx (publish) continues that trace.
func TestTraces(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx := context.Background()
	tr, err := transport.Open(ctx, memURL, transport.WithTracerProvider(tp))
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	publish(t, tr, 0, 5)

	cfg := config(&projection.MemStore{})
	cfg.TracerProvider = tp
	inApply := map[string]trace.SpanContext{} // event id → the span Apply's ctx carries
	cfg.Apply = func(ctx context.Context, s *tally, ev events.Trade) error {
		env, _ := events.EnvelopeFromContext(ctx)
		inApply[env.ID] = trace.SpanContextFromContext(ctx)
		return applyTrade(ctx, s, ev)
	}
	p, err := projection.New(tr, cfg)
	require.NoError(t, err)
	cancel, errc := run(t, p)
	waitCaughtUp(t, p, errc)
	stop(t, cancel, errc)

	sends := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var applies []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "send trade":
			sends[s.SpanContext().SpanID()] = s
		case "apply trade":
			applies = append(applies, s)
		}
	}
	require.Len(t, applies, 5, "a span per event applied")
	for _, a := range applies {
		require.Equal(t, trace.SpanKindConsumer, a.SpanKind())
		send, ok := sends[a.Parent().SpanID()]
		require.True(t, ok, "the apply span's parent is the send span of its event")
		require.Equal(t, send.SpanContext().TraceID(), a.SpanContext().TraceID())
		var id string
		for _, kv := range a.Attributes() {
			if kv.Key == "messaging.message.id" {
				id = kv.Value.AsString()
			}
		}
		require.Equal(t, a.SpanContext(), inApply[id], "Apply's ctx carries its span")
	}
}
