package transport

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestTraceContextMatchesOTel: the envelope's traceparent and tracestate
// are written and read exactly as OpenTelemetry's W3C propagator does, so
// other services (and languages) continue tradebus' traces and the other
// way round.
func TestTraceContextMatchesOTel(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, _ := trace.ParseTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	var w3c propagation.TraceContext
	for _, sc := range []trace.SpanContext{
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts}),
	} {
		ours := map[string]string{"tracestate": "stale"}
		injectTraceContext(sc, ours)
		theirs := map[string]string{}
		w3c.Inject(trace.ContextWithSpanContext(context.Background(), sc), propagation.MapCarrier(theirs))
		if ts := sc.TraceState(); ts.Len() == 0 {
			theirs["tracestate"] = "" // ours removes a stale one instead
			if _, ok := ours["tracestate"]; ok {
				t.Errorf("stale tracestate kept: %v", ours)
			}
			delete(theirs, "tracestate")
		}
		if len(ours) != len(theirs) || ours["traceparent"] != theirs["traceparent"] || ours["tracestate"] != theirs["tracestate"] {
			t.Errorf("inject %v: ours %v, OpenTelemetry's %v", sc, ours, theirs)
		}
		got := extractTraceContext(theirs)
		want := trace.SpanContextFromContext(w3c.Extract(context.Background(), propagation.MapCarrier(theirs)))
		if !got.Equal(want) || !got.IsRemote() {
			t.Errorf("extract %v: ours %v, OpenTelemetry's %v", theirs, got, want)
		}
	}
	for _, bad := range []string{
		"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", // short
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // forbidden version
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero span id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // 00 with more
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
	} {
		md := map[string]string{"traceparent": bad}
		want := trace.SpanContextFromContext(w3c.Extract(context.Background(), propagation.MapCarrier(md)))
		if got := extractTraceContext(md); got.IsValid() != want.IsValid() {
			t.Errorf("extract %q: valid %v, OpenTelemetry's %v", bad, got.IsValid(), want.IsValid())
		}
	}
	// A later version with more fields is read as 00.
	md := map[string]string{"traceparent": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"}
	want := trace.SpanContextFromContext(w3c.Extract(context.Background(), propagation.MapCarrier(md)))
	if got := extractTraceContext(md); !got.Equal(want) {
		t.Errorf("future version: ours %v, OpenTelemetry's %v", got, want)
	}
}

// TestUUIDv7Time reads the publish time out of a google/uuid v7 id.
func TestUUIDv7Time(t *testing.T) {
	// 0x0190a5b3c4d5 ms, fraction 0xabc (×256ns).
	got, ok := uuidV7Time("0190a5b3-c4d5-7abc-8def-0123456789ab")
	if want := int64(0x0190a5b3c4d5)*1e6 + 0xabc<<8; !ok || got.UnixNano() != want {
		t.Errorf("uuidV7Time = %v (%d), %v; want %d", got, got.UnixNano(), ok, want)
	}
	for _, bad := range []string{"", "0190a5b3-c4d5-4abc-8def-0123456789ab", "0190a5b3-c4d5-7abx-8def-0123456789ab", "not-a-uuid"} {
		if _, ok := uuidV7Time(bad); ok {
			t.Errorf("uuidV7Time(%q) ok", bad)
		}
	}
}
