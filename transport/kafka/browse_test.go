package kafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/kafka"
)

// TestBrowseLeavesOffsets: browsing a group (what `tradebus-dlq list`
// does) commits nothing — the group's committed offsets are the same
// before and after — and shows the records the group has not committed,
// for a group that never joined (from the oldest) and, after a member
// handled and committed some, only the rest.
func TestBrowseLeavesOffsets(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(3))
	kind := randomName("k")
	pattern := kind + ".x.*"
	var want []string
	for _, sym := range []string{"A", "B", "C", "D", "E", "F"} {
		m := newMsg(sym, sym)
		publish(t, tr, kind+".x."+sym, m)
		want = append(want, m.UUID)
	}
	publish(t, tr, kind, newMsg("Z", "not matching"))
	slices.Sort(want)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	committed := func() []int64 {
		t.Helper()
		lags, err := tr.Lag(ctx, "dlq", pattern)
		if err != nil {
			t.Fatal(err)
		}
		var c []int64
		for _, l := range lags {
			c = append(c, l.Committed)
		}
		return c
	}
	browse := func() []string {
		t.Helper()
		var ids []string
		if err := transport.Browse(ctx, tr, "dlq", pattern, func(m *message.Message) bool {
			ids = append(ids, m.UUID)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	check := func(what string, want []string) {
		t.Helper()
		before := committed()
		for i := range 2 {
			if ids := browse(); !slices.Equal(ids, want) {
				t.Fatalf("%s: browse %d: %v, want %v", what, i+1, ids, want)
			}
		}
		if after := committed(); !slices.Equal(before, after) {
			t.Fatalf("%s: committed offsets %v -> %v", what, before, after)
		}
	}
	check("never joined", want)

	// A member handles everything and commits; then two more arrive.
	sub, _ := tr.Subscriber("dlq")
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := sub.Subscribe(sctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	for range want {
		select {
		case m := <-ch:
			m.Ack()
		case <-ctx.Done():
			t.Fatal("not delivered")
		}
	}
	for {
		lags, err := tr.Lag(ctx, "dlq", pattern)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, l := range lags {
			total += l.Lag
		}
		if total == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("lag %d, want 0", total)
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	var more []string
	for _, sym := range []string{"G", "H"} {
		m := newMsg(sym, sym)
		publish(t, tr, kind+".x."+sym, m)
		more = append(more, m.UUID)
	}
	slices.Sort(more)
	check("after commits", more)
}

// TestBrowseSkipsPutBackOriginals: a member puts a record back (a copy
// with the same UUID, then acks the original) while an older record of
// the partition is unacked, so nothing is committed. Browse shows the
// unacked record and the copy, not the original as well.
func TestBrowseSkipsPutBackOriginals(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(1))
	kind := randomName("k")
	topic := kind + ".risk"
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sub, _ := tr.Subscriber("dlq")
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, tr, topic, newMsg("A", "old"), newMsg("B", "kept"))
	got := map[string]*message.Message{}
	for len(got) < 2 {
		select {
		case m := <-ch:
			got[string(m.Payload)] = m
		case <-ctx.Done():
			t.Fatal("not delivered")
		}
	}
	defer got["old"].Nack()
	publish(t, tr, topic, got["kept"].Copy())
	got["kept"].Ack()
	var payloads []string
	if err := transport.Browse(ctx, tr, "dlq", topic, func(m *message.Message) bool {
		payloads = append(payloads, string(m.Payload))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(payloads, []string{"old", "kept"}) {
		t.Fatalf("browsed %v, want [old kept] (the unacked record and the copy)", payloads)
	}
}
