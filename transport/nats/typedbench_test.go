package nats_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/nats"
)

// The typed-vs-raw benchmarks of issue 9: 178-byte payloads with the ten
// metadata entries the typed publisher sets, over 16 symbols, batches of
// 256, file storage. The raw baselines are nats.go jetstream PublishMsgAsync
// with 256 in flight (the same headers, prebuilt) and a Consume callback
// that acks each message.

const (
	benchBatch   = 256
	benchSymbols = 16
)

var benchPayload = []byte(`{"venue":"binance","symbol":"BTCUSDT","id":"123456789","price":"64123.45000000","qty":"0.01234000","side":"buy","ts":"2026-03-04T05:06:07.123456789Z","seq":1234567890,"aggressor":"taker","x":"y"}`)[:178]

func benchMetadata(sym, key string, i int) message.Metadata {
	id := "0190f0c8-7a1b-7c2d-8e3f-" + fmt.Sprintf("%012d", i)
	return message.Metadata{
		events.MetaID:              id,
		events.MetaSpecVersion:     events.SpecVersion,
		events.MetaType:            "tradebus.trade.v1",
		events.MetaSource:          "/gw/1",
		events.MetaSubject:         sym,
		events.MetaTime:            "2026-03-04T05:06:07.123456789Z",
		events.MetaDataContentType: events.ContentTypeJSON,
		events.MetaPartitionKey:    sym,
		events.MetaRoutingKey:      key,
		events.MetaCorrelationID:   id,
	}
}

func benchKeys() (syms, keys []string) {
	for i := range benchSymbols {
		s := "SYM" + strconv.Itoa(i)
		syms = append(syms, s)
		keys = append(keys, events.Key("trade", "binance", s))
	}
	return syms, keys
}

// benchMessages builds n Watermill messages over the 16 symbols.
func benchMessages(n int) []*message.Message {
	syms, keys := benchKeys()
	msgs := make([]*message.Message, n)
	for i := range msgs {
		m := message.NewMessage("0190f0c8-7a1b-7c2d-8e3f-"+fmt.Sprintf("%012d", i), benchPayload)
		m.Metadata = benchMetadata(syms[i%benchSymbols], keys[i%benchSymbols], i)
		msgs[i] = m
	}
	return msgs
}

// rawStream creates a file stream for subjects prefix.> and returns it.
func rawStream(b *testing.B, js jetstream.JetStream, prefix string) jetstream.Stream {
	st, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: prefix + "_raw", Subjects: []string{prefix + ".raw.>"}, Storage: jetstream.FileStorage,
	})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// rawPublish publishes n messages pipelined, 256 in flight, with the
// benchmark's headers, on subject subj(i).
func rawPublish(b *testing.B, js jetstream.JetStream, n int, subj func(i int) string) {
	syms, keys := benchKeys()
	hdrs := make([]natsgo.Header, benchSymbols)
	for i := range hdrs {
		hdrs[i] = natsgo.Header{}
		for k, v := range benchMetadata(syms[i], keys[i], i) {
			hdrs[i].Set(k, v)
		}
	}
	futs := make([]jetstream.PubAckFuture, 0, benchBatch)
	for i := 0; i < n; {
		futs = futs[:0]
		for j := 0; j < benchBatch && i < n; j, i = j+1, i+1 {
			f, err := js.PublishMsgAsync(&natsgo.Msg{Subject: subj(i), Header: hdrs[i%benchSymbols], Data: benchPayload})
			if err != nil {
				b.Fatal(err)
			}
			futs = append(futs, f)
		}
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
}

func benchRawPublish(b *testing.B, nc *natsgo.Conn) {
	prefix := uniquePrefix(b, nc)
	js, _ := jetstream.New(nc)
	rawStream(b, js, prefix)
	_, keys := benchKeys()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	rawPublish(b, js, b.N, func(i int) string { return prefix + ".raw." + keys[i%benchSymbols] })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func benchRawConsume(b *testing.B, nc *natsgo.Conn) {
	prefix := uniquePrefix(b, nc)
	js, _ := jetstream.New(nc)
	st := rawStream(b, js, prefix)
	_, keys := benchKeys()
	rawPublish(b, js, b.N, func(i int) string { return prefix + ".raw." + keys[i%benchSymbols] })
	cons, err := st.CreateConsumer(context.Background(), jetstream.ConsumerConfig{
		Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if n.Add(1) == int64(b.N) {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.StopTimer()
	cc.Stop()
	<-cc.Closed()
}

// BenchmarkPublish compares, in one run, the raw client (PublishMsgAsync,
// 256 in flight) with the portable core on this driver: PublishBatch of
// 256 messages over 16 routing keys, one SendBatch each.
func BenchmarkPublish(b *testing.B) {
	nc := connect(b)
	b.Run("raw", func(b *testing.B) { benchRawPublish(b, nc) })
	b.Run("tradebus", func(b *testing.B) {
		tr := newTransport(b, nc, nats.WithPrefix(uniquePrefix(b, nc)))
		msgs := benchMessages(b.N)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i += benchBatch {
			if err := tr.Publisher().(transport.BatchPublisher).PublishBatch(ctx, msgs[i:min(i+benchBatch, b.N)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkConsume compares, in one run, the raw client (Consume + Ack)
// with the portable core on this driver, from a stream holding b.N
// messages: Subscriber.Consume with a no-op handler (the core's fast
// path), and the Watermill channel with an Ack per message.
func BenchmarkConsume(b *testing.B) {
	nc := connect(b)
	b.Run("raw", func(b *testing.B) { benchRawConsume(b, nc) })
	for _, mode := range []string{"tradebus-consume", "tradebus-channel"} {
		b.Run(mode, func(b *testing.B) {
			tr := newTransport(b, nc, nats.WithPrefix(uniquePrefix(b, nc)), nats.WithStart(nats.StartOldest))
			sub, err := tr.NewSubscriber("bench")
			if err != nil {
				b.Fatal(err)
			}
			if err := sub.SubscribeInitialize("trade.#"); err != nil {
				b.Fatal(err)
			}
			msgs := benchMessages(b.N)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := 0; i < b.N; i += benchBatch {
				if err := tr.Publisher().(transport.BatchPublisher).PublishBatch(ctx, msgs[i:min(i+benchBatch, b.N)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if mode == "tradebus-consume" {
				var n atomic.Int64
				done := make(chan struct{})
				wait, err := sub.Consume(ctx, "trade.#", func(*message.Message) ([]*message.Message, error) {
					if n.Add(1) == int64(b.N) {
						close(done)
					}
					return nil, nil
				})
				if err != nil {
					b.Fatal(err)
				}
				<-done
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
				b.StopTimer()
				cancel()
				if err := wait(); err != nil {
					b.Error(err)
				}
			} else {
				ch, err := sub.Subscribe(ctx, "trade.#")
				if err != nil {
					b.Fatal(err)
				}
				for range b.N {
					(<-ch).Ack()
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
				b.StopTimer()
				cancel()
			}
			_ = sub.Close()
		})
	}
}
