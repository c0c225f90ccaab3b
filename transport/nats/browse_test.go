package nats_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestBrowseLeavesConsumer: browsing a group (what `tradebus-dlq list`
// does) leaves its durable consumer as it was — delivered and ack-floor
// sequences, pending and redelivered counts — and creates no consumer;
// it shows what is undelivered, then what is delivered and unacked, and
// after in-order acks only the rest.
func TestBrowseLeavesConsumer(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransportWith(t, nc, []transport.Option{transport.WithCloseTimeout(2 * time.Second)},
		nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	const topic = "deadletter.risk"
	dlq, _ := tr.NewSubscriber("dlq")
	if err := dlq.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 5 {
		m := message.NewMessage("dl-"+strconv.Itoa(i), nil)
		m.Metadata.Set("partitionkey", "K"+strconv.Itoa(i))
		if err := tr.Publisher().Publish(topic, m); err != nil {
			t.Fatal(err)
		}
		want = append(want, m.UUID)
	}
	if err := tr.Publisher().Publish("deadletter.other", message.NewMessage("other", nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(ctx, prefix+"_deadletter")
	if err != nil {
		t.Fatal(err)
	}
	consumerState := func() (n int, st [5]uint64) {
		t.Helper()
		names := stream.ConsumerNames(ctx)
		for name := range names.Name() {
			n++
			c, err := stream.Consumer(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			i := c.CachedInfo()
			st = [5]uint64{i.Delivered.Stream, i.AckFloor.Stream, uint64(i.NumAckPending), uint64(i.NumRedelivered), i.NumPending}
		}
		return n, st
	}
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
	check := func(what string, want []string) {
		t.Helper()
		n0, before := consumerState()
		for i := range 3 {
			if ids := browse(); !slices.Equal(ids, want) {
				t.Fatalf("%s: browse %d: %v, want %v", what, i+1, ids, want)
			}
		}
		if n1, after := consumerState(); n0 != 1 || n1 != 1 || after != before {
			t.Fatalf("%s: consumers %d -> %d, state %v -> %v", what, n0, n1, before, after)
		}
	}
	check("undelivered", want)

	ch, err := dlq.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*message.Message{}
	for len(got) < len(want) {
		select {
		case m := <-ch:
			got[m.UUID] = m
		case <-ctx.Done():
			t.Fatalf("received %d of %d", len(got), len(want))
		}
	}
	defer func() {
		for _, m := range got {
			m.Nack()
		}
	}()
	waitState := func(what string, ok func(st [5]uint64) bool) {
		t.Helper()
		for {
			if _, st := consumerState(); ok(st) {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitState("5 pending", func(st [5]uint64) bool { return st[2] == 5 })
	check("delivered, unacked", want)

	got[want[0]].Ack()
	got[want[1]].Ack()
	delete(got, want[0])
	delete(got, want[1])
	waitState("the ack floor past two", func(st [5]uint64) bool { return st[2] == 3 })
	check("two acked", want[2:])
}

// TestBrowseSkipsPutBackOriginals: a member puts a message back (a copy
// with the same UUID, then acks the original) while an older message is
// still pending, so the acked original sits above the ack floor. Browse
// shows the pending message and the copy, not the original as well.
func TestBrowseSkipsPutBackOriginals(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransportWith(t, nc, []transport.Option{transport.WithCloseTimeout(2 * time.Second)},
		nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	const topic = "deadletter.risk"
	dlq, _ := tr.NewSubscriber("dlq")
	if err := dlq.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"old", "kept"} {
		m := message.NewMessage(id, nil)
		m.Metadata.Set("partitionkey", id)
		if err := tr.Publisher().Publish(topic, m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := dlq.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*message.Message{}
	for len(got) < 2 {
		select {
		case m := <-ch:
			got[m.UUID] = m
		case <-ctx.Done():
			t.Fatal("not delivered")
		}
	}
	defer got["old"].Nack()
	cp := got["kept"].Copy()
	if err := tr.Publisher().Publish(topic, cp); err != nil {
		t.Fatal(err)
	}
	got["kept"].Ack()
	// Wait until JetStream has the ack of "kept" and delivered the copy:
	// floor 0 ("old" pending), delivered 3, two pending (old, the copy).
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(ctx, prefix+"_deadletter")
	if err != nil {
		t.Fatal(err)
	}
	for {
		var info *jetstream.ConsumerInfo
		for name := range stream.ConsumerNames(ctx).Name() {
			c, err := stream.Consumer(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			info = c.CachedInfo()
		}
		if info != nil && info.AckFloor.Stream == 0 && info.Delivered.Stream == 3 && info.NumAckPending == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("consumer state %+v", info)
		}
		time.Sleep(time.Millisecond)
	}
	var ids []string
	if err := transport.Browse(ctx, tr, "dlq", topic, func(m *message.Message) bool {
		ids = append(ids, m.UUID)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"old", "kept"}) {
		t.Fatalf("browsed %v, want [old kept] (the pending one and the copy)", ids)
	}
}
