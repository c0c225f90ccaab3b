package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/mem"
)

func TestObservabilityOptionsRejectNil(t *testing.T) {
	for name, opt := range map[string]transport.Option{
		"tracer": transport.WithTracerProvider(nil),
		"meter":  transport.WithMeterProvider(nil),
		"tls":    transport.WithTLSConfig(nil),
	} {
		if _, err := transport.Open(context.Background(), "mem://", opt); !errors.Is(err, transport.ErrInvalidOption) {
			t.Errorf("%s: Open with nil: %v, want ErrInvalidOption", name, err)
		}
	}
}

// TestPublishContinuesTheMessagesTrace: published without a span in its
// ctx (a replayed dead letter, an event from an uninstrumented hop), a
// message whose traceparent names a span gets a producer span that is
// that span's child, and its consumer span is the producer's child.
func TestPublishContinuesTheMessagesTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, "mem://", transport.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close(context.Background()) }()
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	ch, err := sub.Subscribe(ctx, "trade.#")
	if err != nil {
		t.Fatal(err)
	}
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	msg := message.NewMessage("m1", []byte("{}"))
	msg.Metadata.Set(events.MetaTraceParent, "00-"+tid+"-"+sid+"-01")
	msg.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", msg); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		got.Ack()
	case <-ctx.Done():
		t.Fatal("no message")
	}
	if msg.Metadata.Get(events.MetaTraceParent) != "00-"+tid+"-"+sid+"-01" {
		t.Error("Publish changed the caller's message metadata")
	}
	var send, process sdktrace.ReadOnlySpan
	for send == nil || process == nil {
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "send trade":
				send = s
			case "process trade":
				process = s
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("spans: send %v, process %v", send != nil, process != nil)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if send.SpanContext().TraceID().String() != tid || send.Parent().SpanID().String() != sid || !send.Parent().IsRemote() {
		t.Errorf("send span in trace %s with parent %s, want trace %s, remote parent %s",
			send.SpanContext().TraceID(), send.Parent().SpanID(), tid, sid)
	}
	if process.Parent().SpanID() != send.SpanContext().SpanID() || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process span's parent %s, want the send span %s", process.Parent().SpanID(), send.SpanContext().SpanID())
	}
}
