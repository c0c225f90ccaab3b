package nats_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/nats"
)

// TestReadLeavesNoConsumer: Read's ephemeral consumer is gone when Read
// returns — after reading everything, and after fn stopped early — so the
// stream has no consumer left.
func TestReadLeavesNoConsumer(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix))
	for i := range 10 {
		m := message.NewMessage("r-"+strconv.Itoa(i), nil)
		m.Metadata.Set("partitionkey", "K")
		if err := tr.Publisher().Publish("trade.x.K", m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(ctx, prefix+"_trade")
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		t.Helper()
		n := 0
		names := stream.ConsumerNames(ctx)
		for range names.Name() {
			n++
		}
		if err := names.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, stopAt := range []int{0, 3} {
		calls := 0
		err := transport.Read(ctx, tr, "trade.#", transport.FromBeginning(), func(*message.Message) bool {
			calls++
			if n := consumers(); n != 1 {
				t.Errorf("while Read runs the stream has %d consumers, want its 1", n)
			}
			return calls != stopAt
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{0: 10, 3: 3}[stopAt]; calls != want {
			t.Errorf("Read passed %d messages, want %d", calls, want)
		}
		if n := consumers(); n != 0 {
			t.Errorf("after Read (fn stops at %d) the stream has %d consumers, want 0", stopAt, n)
		}
	}
}

// TestFollowOutlivesItsConsumer: a follower whose ephemeral consumer
// vanishes (deleted here from outside, as a server restart would lose it)
// creates one again after the last message it passed: what is published
// later is passed, nothing twice; when Follow returns no consumer is left.
func TestFollowOutlivesItsConsumer(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	publish := func(payload string) {
		t.Helper()
		m := message.NewMessage("f-"+payload, []byte(payload))
		m.Metadata.Set("partitionkey", "K")
		if err := tr.Publisher().Publish("trade.x.K", m); err != nil {
			t.Fatal(err)
		}
	}
	publish("0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(ctx, prefix+"_trade")
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() []string {
		t.Helper()
		var names []string
		lister := stream.ConsumerNames(ctx)
		for n := range lister.Name() {
			names = append(names, n)
		}
		if err := lister.Err(); err != nil {
			t.Fatal(err)
		}
		return names
	}
	got := make(chan string, 16)
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- transport.Follow(fctx, tr, "trade.#", transport.FromBeginning(), func(msg *message.Message) bool {
			got <- string(msg.Payload)
			return true
		})
	}()
	next := func() string {
		t.Helper()
		select {
		case p := <-got:
			return p
		case err := <-done:
			t.Fatalf("Follow returned %v", err)
		case <-ctx.Done():
			t.Fatal("timed out waiting for the follower")
		}
		return ""
	}
	if p := next(); p != "0" {
		t.Fatalf("first message %q, want 0", p)
	}
	names := consumers()
	if len(names) != 1 {
		t.Fatalf("the follower's stream has consumers %v, want one", names)
	}
	if err := stream.DeleteConsumer(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"1", "2"} {
		publish(p)
		if q := next(); q != p {
			t.Fatalf("after its consumer was deleted the follower passed %q, want %q", q, p)
		}
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow after cancel: %v, want context.Canceled", err)
	}
	if names := consumers(); len(names) != 0 {
		t.Errorf("after Follow returned the stream has consumers %v, want none", names)
	}
}
