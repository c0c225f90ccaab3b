package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

func TestEnvelopeFromMetadata(t *testing.T) {
	md := map[string]string{
		events.MetaID: "id-2", events.MetaSource: "strategy", events.MetaType: events.TypeSignal,
		events.MetaSubject: "BTCUSDT", events.MetaTime: "2026-03-14T15:09:26.535897932Z",
		events.MetaCorrelationID: "id-1", events.MetaCausationID: "id-1", events.MetaTraceParent: "00-abc-def-01",
		events.MetaPartitionKey: "BTCUSDT", events.MetaRoutingKey: "signal.binance.BTCUSDT.meanrev", events.MetaSequence: "7",
	}
	env := events.EnvelopeFromMetadata(md)
	want := events.Envelope{
		ID: "id-2", Source: "strategy", Type: events.TypeSignal, Subject: "BTCUSDT", Time: t0,
		CorrelationID: "id-1", CausationID: "id-1", TraceParent: "00-abc-def-01", PartitionKey: "BTCUSDT",
		RoutingKey: "signal.binance.BTCUSDT.meanrev", Sequence: "7",
	}
	if !sameEvent(env, want) {
		t.Fatalf("got %+v\nwant %+v", env, want)
	}
	for _, bad := range []string{"", "yesterday", "2026-03-14"} {
		md[events.MetaTime] = bad
		if got := events.EnvelopeFromMetadata(md).Time; !got.IsZero() {
			t.Errorf("time %q -> %v, want zero", bad, got)
		}
	}
	if got := events.EnvelopeFromMetadata(nil); got != (events.Envelope{}) {
		t.Errorf("nil metadata -> %+v", got)
	}
}

func TestEnvelopeChainAndContext(t *testing.T) {
	tests := []struct {
		parent          events.Envelope
		corr, causation string
	}{
		{events.Envelope{ID: "a"}, "a", "a"},                     // first event starts the flow
		{events.Envelope{ID: "b", CorrelationID: "a"}, "a", "b"}, // inherits correlation
		{events.Envelope{ID: "c", CorrelationID: "a", CausationID: "b"}, "a", "c"},
	}
	for _, tc := range tests {
		corr, cause := tc.parent.Chain()
		if corr != tc.corr || cause != tc.causation {
			t.Errorf("Chain(%+v) = %q, %q; want %q, %q", tc.parent, corr, cause, tc.corr, tc.causation)
		}
	}
	ctx := context.Background()
	if _, ok := events.EnvelopeFromContext(ctx); ok {
		t.Fatal("envelope in empty context")
	}
	env := events.Envelope{ID: "x", Time: time.Unix(1, 2)}
	got, ok := events.EnvelopeFromContext(events.ContextWithEnvelope(ctx, env))
	if !ok || got != env {
		t.Fatalf("got %+v, %v", got, ok)
	}
}
