package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
)

// BenchLatency measures how long one message takes from Publish to its
// reader on tr, one at a time (each published when the one before has
// arrived): with reader "follow" a transport.Follow of the kind, with
// "subscribe" a subscription of a group. One message is sent and awaited
// before timing, so that the stream, the group and the reader are set up.
// ns/op is the round trip: the publish confirmation and the delivery.
func BenchLatency(b *testing.B, tr transport.Transport, reader string) {
	kind := "lat" + RandomSuffix()
	pattern := kind + ".#"
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan *message.Message, 1)
	done := make(chan error, 1)
	switch reader {
	case "follow":
		go func() {
			done <- transport.Follow(ctx, tr, pattern, transport.FromBeginning(), func(m *message.Message) bool {
				select {
				case got <- m:
					return true
				case <-ctx.Done():
					return false
				}
			})
		}()
	case "subscribe":
		sub, err := tr.Subscriber("lat")
		if err != nil {
			b.Fatal(err)
		}
		ch, err := sub.Subscribe(ctx, pattern)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for m := range ch {
				m.Ack()
				got <- m
			}
			done <- sub.Close()
		}()
	default:
		b.Fatalf("reader %q: want follow or subscribe", reader)
	}
	defer func() {
		cancel()
		<-done
	}()
	send := func(i int) {
		m := message.NewMessage(RandomSuffix(), []byte(`{"price":"1"}`))
		m.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
		if err := tr.Publisher().Publish(kind+".binance.BTCUSDT", m); err != nil {
			b.Fatal(err)
		}
		select {
		case r := <-got:
			if r.UUID != m.UUID {
				b.Fatalf("message %d: got %s, want %s", i, r.UUID, m.UUID)
			}
		case err := <-done:
			b.Fatalf("reader stopped: %v", err)
		case <-time.After(time.Minute):
			b.Fatalf("message %d not passed within a minute", i)
		}
	}
	send(-1)
	b.ResetTimer()
	for i := range b.N {
		send(i)
	}
}
