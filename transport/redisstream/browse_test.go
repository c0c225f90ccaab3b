package redisstream_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// TestBrowseIsReadOnly (issue 10 item 4): browsing a group's backlog —
// what `tradebus-dlq list` does — leaves the stream and the group exactly
// as they were: same XLEN (nothing appended), same last-delivered id, the
// same pending entries with the same delivery counts; and it shows both
// the entries pending with a consumer that holds them and those not yet
// delivered.
func TestBrowseIsReadOnly(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	tr := newTransportWith(t, c, []transport.Option{transport.WithBatch(4)}, redisstream.WithPrefix(prefix))
	topic := "deadletter.risk"
	stream := prefix + "deadletter"
	dlq, _ := tr.NewSubscriber("dlq")
	if err := dlq.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	const n = 9
	for i := range n {
		m := message.NewMessage("m"+strconv.Itoa(i), []byte(strconv.Itoa(i)))
		m.Metadata.Set("partitionkey", "K"+strconv.Itoa(i))
		if err := tr.Publisher().Publish(topic, m); err != nil {
			t.Fatal(err)
		}
	}
	// Another group's dead letter in the same stream: not shown.
	if err := tr.Publisher().Publish("deadletter.portfolio", message.NewMessage("other", nil)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	browse := func() []string {
		t.Helper()
		var ids []string
		if err := transport.Browse(ctx, tr, "dlq", topic, func(m *message.Message) bool {
			ids = append(ids, m.UUID)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	type state struct {
		xlen    int64
		last    string
		pending []redis.XPendingExt
	}
	snapshot := func() state {
		t.Helper()
		var s state
		var err error
		if s.xlen, err = c.XLen(ctx, stream).Result(); err != nil {
			t.Fatal(err)
		}
		groups, err := c.XInfoGroups(ctx, stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			if g.Name == "dlq:"+topic {
				s.last = g.LastDeliveredID
			}
		}
		if s.pending, err = c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: "dlq:" + topic, Start: "-", End: "+", Count: 100}).Result(); err != nil {
			t.Fatal(err)
		}
		for i := range s.pending {
			s.pending[i].Idle = 0 // time passes
		}
		return s
	}
	check := func(what string, wantPending int) {
		t.Helper()
		before := snapshot()
		for i := range 3 {
			ids := browse()
			if len(ids) != n || ids[0] != "m0" || ids[n-1] != "m8" {
				t.Fatalf("%s: browse %d: %v, want m0..m8 in order", what, i+1, ids)
			}
		}
		after := snapshot()
		if before.xlen != n+1 || after.xlen != before.xlen || after.last != before.last || len(after.pending) != wantPending ||
			len(before.pending) != len(after.pending) {
			t.Fatalf("%s: stream changed: before %+v, after %+v", what, before, after)
		}
		for i := range after.pending {
			if after.pending[i] != before.pending[i] {
				t.Fatalf("%s: pending entry changed: %+v -> %+v", what, before.pending[i], after.pending[i])
			}
		}
	}
	check("nothing delivered", 0)

	// A member holds the entries (delivered, pending, unacked).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := dlq.Subscribe(sctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		defer m.Nack() // held until the end, then given back (before cancel: no drain to wait for)
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery")
	}
	// Wait until the core has read the whole stream (in batches of 4) and
	// acked the other group's entry, which its pattern skips.
	end, err := c.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil || len(end) != 1 {
		t.Fatal(end, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s := snapshot(); s.last != end[0].ID || len(s.pending) != n; s = snapshot() {
		if time.Now().After(deadline) {
			t.Fatal("entries not pending")
		}
		time.Sleep(time.Millisecond)
	}
	check("delivered, pending", n)
}
