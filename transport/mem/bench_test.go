package mem_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// BenchmarkPublishSubscribe moves b.N messages over 16 partition keys from
// a publisher through a Watermill router to a handler and reports msg/s.
// Work "cpu" hashes the 256-byte payload; "io" sleeps 100µs, like a small
// downstream call (the OS timer makes that up to ~1ms when the process is
// otherwise idle).
//
// Baselines: Watermill's GoChannel with the same router, handler and
// messages. By default GoChannel's Publish starts a goroutine per message
// and returns: every message is in flight at once, unbounded and in no
// order. With BlockPublishUntilSubscriberAck it hands out one message at a
// time (in order), like mem with concurrency 1.
func BenchmarkPublishSubscribe(b *testing.B) {
	works := []struct {
		name string
		fn   func(msg *message.Message)
	}{
		{"cpu", func(msg *message.Message) { _ = sha256.Sum256(msg.Payload) }},
		{"io", func(*message.Message) { time.Sleep(100 * time.Microsecond) }},
	}
	for _, w := range works {
		for _, block := range []bool{false, true} {
			// GoChannel has no wildcards: one topic for all keys.
			b.Run(fmt.Sprintf("work=%s/gochannel-block=%t", w.name, block), func(b *testing.B) {
				gc := gochannel.NewGoChannel(gochannel.Config{
					OutputChannelBuffer:            1024,
					BlockPublishUntilSubscriberAck: block,
				}, watermill.NopLogger{})
				benchRouter(b, gc, gc, "bench", func(string) string { return "bench" }, w.fn)
			})
		}
		for _, c := range []int{1, 64} {
			b.Run(fmt.Sprintf("work=%s/mem-concurrency=%d", w.name, c), func(b *testing.B) {
				tr, err := mem.New(mem.WithConcurrency(c), mem.WithBuffer(4096))
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = tr.Close(context.Background()) }()
				sub, err := tr.Subscriber("bench")
				if err != nil {
					b.Fatal(err)
				}
				benchRouter(b, tr.Publisher(), sub, "bench.#", func(key string) string { return key }, w.fn)
			})
		}
	}
}

func benchRouter(b *testing.B, pub message.Publisher, sub message.Subscriber, pattern string,
	topic func(key string) string, work func(*message.Message)) {
	const keys = 16
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	router.AddConsumerHandler("bench", pattern, sub, func(msg *message.Message) error {
		work(msg)
		if handled.Add(1) == n {
			close(done)
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = router.Run(ctx) }()
	<-router.Running()

	topics := make([]string, keys)
	for i := range topics {
		topics[i] = topic(fmt.Sprintf("bench.venue.SYM%d", i))
	}
	payload := make([]byte, 256)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		k := i % keys
		msg := message.NewMessage(watermill.NewUUID(), payload)
		msg.Metadata.Set("partitionkey", fmt.Sprintf("SYM%d", k))
		if err := pub.Publish(topics[k], msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("handled %d of %d", handled.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
	b.StopTimer()
	_ = router.Close()
}

// BenchmarkHistory measures what WithHistory costs one message on the
// driver: SendBatch of 256 messages (16 keys, 256-byte payload, 3
// metadata entries) into one subscription queue, received and acked; an
// op is one message. history=0 is the default (no history).
func BenchmarkHistory(b *testing.B) {
	const batch = 256
	for _, n := range []int{0, 1024} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			d, err := mem.NewDriver(mem.WithHistory(n), mem.WithBuffer(batch))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = d.Close(context.Background()) }()
			ctx := context.Background()
			sub, err := d.Subscribe(ctx, "g", "bench.#")
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = sub.Close(ctx) }()
			msgs := make([]*driver.Message, batch)
			payload := make([]byte, 256)
			for i := range msgs {
				key := fmt.Sprintf("bench.venue.SYM%d", i%16)
				msgs[i] = &driver.Message{
					UUID: fmt.Sprint(i), Key: key, PartitionKey: fmt.Sprintf("SYM%d", i%16), Payload: payload,
					Metadata: map[string]string{"routingkey": key, "partitionkey": fmt.Sprintf("SYM%d", i%16), "name": "trade"},
				}
			}
			ids := make([]driver.AckID, 0, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for sent := 0; sent < b.N; sent += batch {
				if err := d.Topic().SendBatch(ctx, msgs); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < batch; {
					dms, err := sub.ReceiveBatch(ctx, batch)
					if err != nil {
						b.Fatal(err)
					}
					ids = ids[:0]
					for _, dm := range dms {
						ids = append(ids, dm.AckID)
					}
					if err := sub.SendAcks(ctx, ids); err != nil {
						b.Fatal(err)
					}
					got += len(dms)
				}
			}
		})
	}
}
