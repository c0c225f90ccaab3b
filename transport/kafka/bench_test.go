package kafka_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// The benchmarks compare tradebus with raw franz-go kgo on the same
// embedded cluster in the same run. Each iteration runs one round of the
// raw client and one of tradebus, alternating which goes first, so drift
// of a shared machine hits both; they report msg/s of each and the ratio
// tradebus/raw:
//
//	go test -run '^$' -bench . -benchtime 10x -count 5 ./transport/kafka/ | benchstat -
//
// Publish runs on a cluster that acknowledges without storing
// (kfake.BlackholeProduce), so broker memory does not grow with the run.

const (
	benchKeys       = 64
	benchPartitions = 16
)

var benchPayload = []byte(`{"exchange":"binance","symbol":"BTCUSDT","id":"123456789","price":"64000.12345678",` +
	`"amount":"0.00150000","side":"buy","taker":true,"time":"2026-01-02T03:04:05.123456789Z"}`)

// benchMessage returns an event as package publisher makes it: full
// envelope metadata, the symbol as partition key.
func benchMessage(i int, key string) *message.Message {
	id := uuid.NewString()
	sym := "SYM" + strconv.Itoa(i%benchKeys)
	msg := message.NewMessage(id, benchPayload)
	msg.Metadata = message.Metadata{
		events.MetaID:              id,
		events.MetaSource:          "bench",
		events.MetaSpecVersion:     events.SpecVersion,
		events.MetaType:            "tradebus.trade.v1",
		events.MetaSubject:         sym,
		events.MetaTime:            "2026-01-02T03:04:05.123456789Z",
		events.MetaDataContentType: events.ContentTypeJSON,
		events.MetaCorrelationID:   id,
		events.MetaPartitionKey:    sym,
		events.MetaRoutingKey:      key,
	}
	return msg
}

// rawRecord is what a program using kgo directly would send for msg: the
// same key, value and headers, built the plain way.
func rawRecord(topic string, msg *message.Message) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte(msg.Metadata[events.MetaPartitionKey]), Value: msg.Payload,
		Headers: make([]kgo.RecordHeader, 0, len(msg.Metadata))}
	for k, v := range msg.Metadata {
		name := "ce_" + k
		if k == events.MetaDataContentType {
			name = "content-type"
		}
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: name, Value: []byte(v)})
	}
	return r
}

func benchRecord(topic, key string, i int) *kgo.Record {
	return rawRecord(topic, benchMessage(i, key))
}

// pair runs b.N rounds of raw and tradebus (n messages each), alternating
// the order, and reports both rates and their ratio.
func pair(b *testing.B, n int, raw, tb func(n int) time.Duration) {
	b.Helper()
	var rawT, tbT time.Duration
	for i := range b.N {
		if i%2 == 0 {
			rawT += raw(n)
			tbT += tb(n)
		} else {
			tbT += tb(n)
			rawT += raw(n)
		}
	}
	total := float64(b.N * n)
	rawRate, tbRate := total/rawT.Seconds(), total/tbT.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rawRate, "raw-msg/s")
	b.ReportMetric(tbRate, "tradebus-msg/s")
	b.ReportMetric(tbRate/rawRate, "ratio")
}

func newRawProducer(b *testing.B, brokers []string) *kgo.Client {
	// The producer settings of the driver: acks=all, idempotent (kgo's
	// default), kgo's default linger.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

func createTopic(b *testing.B, cl *kgo.Client, topic string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, benchPartitions, -1, nil, topic); err != nil {
		b.Fatal(err)
	}
}

// publishWarm creates the kind's topic and loads its metadata.
func publishWarm(b *testing.B, tr *testTransport, kind string) {
	b.Helper()
	if err := tr.Publisher().Publish(kind+".warm", benchMessage(0, kind+".warm")); err != nil {
		b.Fatal(err)
	}
}

// run64 calls fn(i) for i in [0, n) from 64 goroutines.
func run64(b *testing.B, n int, fn func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkPublish(b *testing.B) {
	cluster := kafkatest.NewCluster(b, kafkatest.WithKfakeOptions(kfake.BlackholeProduce()))
	brokers := cluster.Brokers()
	tr := newTransport(b, brokers, kafka.WithPartitions(benchPartitions))
	raw := newRawProducer(b, brokers)
	rawTopic := randomName("raw")
	createTopic(b, raw, rawTopic)
	kind := randomName("k")
	key := kind + ".v.x"
	publishWarm(b, tr, kind)
	ctx := context.Background()

	// Async: n events, built before the clock starts. Raw kgo turns each
	// into a record (key, value, ce_ headers), produces it with a promise
	// and waits for all; tradebus publishes them in one Publish call.
	b.Run("async", func(b *testing.B) {
		pair(b, 10000, func(n int) time.Duration {
			msgs := make([]*message.Message, n)
			for i := range msgs {
				msgs[i] = benchMessage(i, key)
			}
			var wg sync.WaitGroup
			wg.Add(n)
			start := time.Now()
			for _, msg := range msgs {
				raw.Produce(ctx, rawRecord(rawTopic, msg), func(_ *kgo.Record, err error) {
					if err != nil {
						b.Error(err)
					}
					wg.Done()
				})
			}
			wg.Wait()
			return time.Since(start)
		}, func(n int) time.Duration {
			msgs := make([]*message.Message, n)
			for i := range msgs {
				msgs[i] = benchMessage(i, key)
			}
			start := time.Now()
			if err := tr.Publisher().Publish(key, msgs...); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		})
	})
	// Concurrent: 64 goroutines, one event per call, each waiting for
	// its acknowledgement (kgo ProduceSync vs Publish); events are made
	// inside the loop for both.
	b.Run("64goroutines", func(b *testing.B) {
		pair(b, 10000, func(n int) time.Duration {
			start := time.Now()
			run64(b, n, func(i int) error { return raw.ProduceSync(ctx, benchRecord(rawTopic, key, i)).FirstErr() })
			return time.Since(start)
		}, func(n int) time.Duration {
			start := time.Now()
			run64(b, n, func(i int) error { return tr.Publisher().Publish(key, benchMessage(i, key)) })
			return time.Since(start)
		})
	})
	// Sequential: one goroutine, one message per call: one round trip
	// (and one linger) each.
	b.Run("1goroutine", func(b *testing.B) {
		pair(b, 200, func(n int) time.Duration {
			start := time.Now()
			for i := range n {
				if err := raw.ProduceSync(ctx, benchRecord(rawTopic, key, i)).FirstErr(); err != nil {
					b.Fatal(err)
				}
			}
			return time.Since(start)
		}, func(n int) time.Duration {
			start := time.Now()
			for i := range n {
				if err := tr.Publisher().Publish(key, benchMessage(i, key)); err != nil {
					b.Fatal(err)
				}
			}
			return time.Since(start)
		})
	})
}

// BenchmarkConsume measures how fast n events waiting in a topic are
// consumed by a new consumer group, from creating the consumer to the last
// message: raw kgo (PollFetches, records counted) against a tradebus
// subscription whose reader acks each message (decoded to a Watermill
// message with metadata, key-ordered hand-off, commit of acked offsets).
func BenchmarkConsume(b *testing.B) {
	cluster := kafkatest.NewCluster(b)
	brokers := cluster.Brokers()
	tr := newTransport(b, brokers, kafka.WithPartitions(benchPartitions))
	raw := newRawProducer(b, brokers)
	ctx := context.Background()

	// fill writes n events to a fresh topic (of a fresh kind) and returns
	// the kind.
	fill := func(n int) string {
		kind := randomName("k")
		topic := tr.Topic(kind)
		createTopic(b, raw, topic)
		var wg sync.WaitGroup
		wg.Add(n)
		for i := range n {
			raw.Produce(ctx, benchRecord(topic, kind+".v.x", i), func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		return kind
	}
	rawConsume := func(n int) time.Duration {
		kind := fill(n)
		start := time.Now()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(randomName("g")),
			kgo.ConsumeTopics(tr.Topic(kind)))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for got := 0; got < n; {
			fs := cl.PollFetches(pctx)
			if pctx.Err() != nil {
				b.Fatalf("raw consumed %d of %d", got, n)
			}
			got += fs.NumRecords()
		}
		return time.Since(start)
	}
	// channel: Watermill's Subscribe channel, the reader acks each.
	b.Run("channel", func(b *testing.B) {
		pair(b, 20000, rawConsume, func(n int) time.Duration {
			kind := fill(n)
			start := time.Now()
			sub, err := tr.Subscriber(randomName("g"))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = sub.Close() }()
			ch, err := sub.Subscribe(ctx, kind+".#")
			if err != nil {
				b.Fatal(err)
			}
			timeout := time.After(time.Minute)
			for got := 0; got < n; got++ {
				select {
				case msg := <-ch:
					msg.Ack()
				case <-timeout:
					b.Fatalf("tradebus consumed %d of %d", got, n)
				}
			}
			return time.Since(start)
		})
	})
	// handler: the core's Consume with a no-op handler on its key-ordered
	// workers.
	b.Run("handler", func(b *testing.B) {
		pair(b, 20000, rawConsume, func(n int) time.Duration {
			kind := fill(n)
			start := time.Now()
			sub, err := tr.NewSubscriber(randomName("g"))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = sub.Close() }()
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var got atomic.Int64
			done := make(chan struct{})
			wait, err := sub.Consume(cctx, kind+".#", func(*message.Message) ([]*message.Message, error) {
				if got.Add(1) == int64(n) {
					close(done)
				}
				return nil, nil
			})
			if err != nil {
				b.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("tradebus consumed %d of %d", got.Load(), n)
			}
			elapsed := time.Since(start)
			cancel()
			if err := wait(); err != nil {
				b.Fatal(err)
			}
			return elapsed
		})
	})
}
