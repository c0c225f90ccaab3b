package events_test

import (
	"context"
	"fmt"
	"sync"
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
	// A request's reply-to and deadline; the same envelope from metadata
	// too big for the one-pass read (other headers alongside), and with a
	// time in another zone (time.Parse's form).
	md[events.MetaTime] = "2026-03-14T15:09:26.535897932Z"
	md[events.MetaReplyTo] = "reply.client-1"
	md[events.MetaDeadline] = "2026-03-14T16:09:26+01:00"
	want.ReplyTo = "reply.client-1"
	want.Deadline, _ = time.Parse(time.RFC3339, "2026-03-14T16:09:26+01:00")
	small := events.EnvelopeFromMetadata(md)
	for i := range 40 {
		md[fmt.Sprintf("x-header-%d", i)] = "v"
	}
	big := events.EnvelopeFromMetadata(md)
	for _, got := range []events.Envelope{small, big} {
		if !sameEvent(got, want) || !got.Deadline.Equal(want.Deadline) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	}
	md[events.MetaDeadline] = "soon"
	if got := events.EnvelopeFromMetadata(md).Deadline; !got.IsZero() {
		t.Errorf("deadline %q -> %v, want zero", "soon", got)
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

// ContextWithMetadata carries the envelope EnvelopeFromMetadata reads,
// read on first use, once, also when asked from several goroutines.
func TestContextWithMetadata(t *testing.T) {
	md := map[string]string{
		events.MetaID: "id-1", events.MetaCorrelationID: "corr-1", events.MetaCausationID: "cause-1",
		events.MetaRoutingKey: "trade.binance.BTCUSDT", events.MetaTime: "2026-11-30T09:00:00.5Z",
	}
	want := events.EnvelopeFromMetadata(md)
	ctx := events.ContextWithMetadata(context.Background(), md)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, ok := events.EnvelopeFromContext(ctx)
			if !ok || got != want {
				t.Errorf("EnvelopeFromContext = %+v, %v; want %+v", got, ok, want)
			}
		}()
	}
	wg.Wait()
	if got, _ := events.EnvelopeFromContext(events.ContextWithEnvelope(ctx, events.Envelope{ID: "x"})); got.ID != "x" {
		t.Errorf("the inner envelope wins: %q", got.ID)
	}
	if got, ok := events.EnvelopeFromContext(events.ContextWithMetadata(context.Background(), nil)); !ok || got != (events.Envelope{}) {
		t.Errorf("nil metadata: %+v, %v", got, ok)
	}
}

// ContextWithDelivery fills in the ids a delivered message lacks: its own
// uuid as id, its id as correlation id (a new flow); ids present are kept.
// HasEnvelope sees the envelope without reading it.
func TestContextWithDelivery(t *testing.T) {
	for _, tc := range []struct {
		name          string
		md            map[string]string
		id, corr, cau string
	}{
		{"no ids", map[string]string{events.MetaType: "t"}, "uuid-1", "uuid-1", ""},
		{"nil metadata", nil, "uuid-1", "uuid-1", ""},
		{"id only", map[string]string{events.MetaID: "id-1"}, "id-1", "id-1", ""},
		{"all", map[string]string{events.MetaID: "id-1", events.MetaCorrelationID: "c", events.MetaCausationID: "x"}, "id-1", "c", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := events.ContextWithDelivery(context.Background(), tc.md, "uuid-1")
			if !events.HasEnvelope(ctx) {
				t.Fatal("HasEnvelope = false")
			}
			env, ok := events.EnvelopeFromContext(ctx)
			if !ok || env.ID != tc.id || env.CorrelationID != tc.corr || env.CausationID != tc.cau {
				t.Errorf("envelope %+v, %v; want id %q correlation %q causation %q", env, ok, tc.id, tc.corr, tc.cau)
			}
		})
	}
	if events.HasEnvelope(context.Background()) {
		t.Error("HasEnvelope(Background) = true")
	}
	if !events.HasEnvelope(events.ContextWithMetadata(context.Background(), nil)) {
		t.Error("HasEnvelope(ContextWithMetadata) = false")
	}
}
