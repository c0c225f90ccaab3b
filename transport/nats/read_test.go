package nats_test

import (
	"context"
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
