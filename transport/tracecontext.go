package transport

import (
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/events"
)

// The W3C Trace Context (https://www.w3.org/TR/trace-context/) in the
// envelope: "traceparent" (events.MetaTraceParent) and "tracestate". Done
// here rather than with go.opentelemetry.io/otel/propagation, which links
// net/http (+2.4 MB in a mem-only binary); a test checks both read each
// other's headers.

// metaTraceState is the W3C tracestate header, next to traceparent.
const metaTraceState = "tracestate"

// injectTraceContext writes sc into md as traceparent (and tracestate when
// sc has one).
func injectTraceContext(sc trace.SpanContext, md map[string]string) {
	if !sc.IsValid() {
		return
	}
	var b [55]byte
	copy(b[:], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	flags := sc.TraceFlags() & trace.FlagsSampled
	hex.Encode(b[53:55], []byte{byte(flags)})
	md[events.MetaTraceParent] = string(b[:])
	if ts := sc.TraceState(); ts.Len() > 0 {
		md[metaTraceState] = ts.String()
	} else {
		delete(md, metaTraceState)
	}
}

// extractTraceContext reads the remote span context in md's traceparent
// and tracestate; an absent or malformed traceparent gives an invalid
// SpanContext (a new trace starts). Versions above 00 are read as 00, as
// the specification asks.
func extractTraceContext(md map[string]string) trace.SpanContext {
	tp := md[events.MetaTraceParent]
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return trace.SpanContext{}
	}
	var ver [1]byte
	if _, err := hex.Decode(ver[:], []byte(tp[:2])); err != nil || ver[0] == 0xff || (ver[0] == 0 && len(tp) != 55) ||
		(len(tp) > 55 && tp[55] != '-') {
		return trace.SpanContext{}
	}
	tid, err := trace.TraceIDFromHex(tp[3:35])
	if err != nil {
		return trace.SpanContext{}
	}
	sid, err := trace.SpanIDFromHex(tp[36:52])
	if err != nil {
		return trace.SpanContext{}
	}
	var flags [1]byte
	if _, err := hex.Decode(flags[:], []byte(tp[53:55])); err != nil {
		return trace.SpanContext{}
	}
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]) & trace.FlagsSampled, Remote: true}
	if s := md[metaTraceState]; s != "" {
		if ts, err := trace.ParseTraceState(s); err == nil {
			cfg.TraceState = ts
		}
	}
	return trace.NewSpanContext(cfg)
}
