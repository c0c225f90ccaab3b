package redisstream_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// benchBatch is how many messages one publish call (and one raw pipeline)
// carries, and COUNT of one raw XREADGROUP.
const benchBatch = 256

// benchSymbols is the number of partition keys of the benchmark messages.
const benchSymbols = 16

// benchMessages returns n messages shaped like typed events: a 178-byte
// payload and the envelope metadata (CloudEvents attributes, partition and
// routing key), over benchSymbols symbols.
func benchMessages(n int) []*message.Message {
	payload := make([]byte, 178)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	msgs := make([]*message.Message, n)
	for i := range msgs {
		sym := "SYM" + strconv.Itoa(i%benchSymbols)
		id := fmt.Sprintf("0192f0c4-7d1e-7c3a-9b1e-%012d", i)
		m := message.NewMessage(id, payload)
		m.Metadata = message.Metadata{
			events.MetaID:              id,
			events.MetaSource:          "tradebus/bench",
			events.MetaSpecVersion:     "1.0",
			events.MetaType:            "trade",
			events.MetaSubject:         sym,
			events.MetaTime:            "2026-11-30T04:00:00.123456789Z",
			events.MetaDataContentType: "application/json",
			events.MetaCorrelationID:   id,
			events.MetaPartitionKey:    sym,
			events.MetaRoutingKey:      events.Key("trade", "binance", sym),
		}
		msgs[i] = m
	}
	return msgs
}

// rawFields is what the raw client writes for m: the same fields the
// transport writes, so both move the same bytes.
func rawFields(m *message.Message) []any {
	vals := make([]any, 0, 6+2*len(m.Metadata))
	vals = append(vals, "uuid", m.UUID, "routingkey", m.Metadata[events.MetaRoutingKey], "payload", []byte(m.Payload))
	for k, v := range m.Metadata {
		vals = append(vals, "meta:"+k, v)
	}
	return vals
}

// rawEntries returns the XADD field lists of msgs.
func rawEntries(msgs []*message.Message) [][]any {
	fields := make([][]any, len(msgs))
	for i, m := range msgs {
		fields[i] = rawFields(m)
	}
	return fields
}

// rawPublish appends entries to stream with pipelined XADDs, benchBatch
// per pipeline, from one goroutine: the raw client's publishing baseline.
func rawPublish(b *testing.B, c *redis.Client, stream string, fields [][]any) {
	ctx := context.Background()
	pipe := c.Pipeline()
	for i := 0; i < len(fields); i += benchBatch {
		for _, f := range fields[i:min(i+benchBatch, len(fields))] {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, MaxLen: 1_000_000, Approx: true, Values: f})
		}
		cmds, err := pipe.Exec(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				b.Fatal(cmd.Err())
			}
		}
	}
}

// BenchmarkVersusRaw measures, in one run, the raw go-redis client and the
// transport moving the same messages: publishing from one goroutine
// (pipelined XADD of 256 vs Publish of 256) and consuming (XREADGROUP
// COUNT 256 + one XACK per batch vs a subscription acking every message
// as it comes), and the core's handler path (Subscriber.Consume, no-op
// handler). The machines are shared and noisy: run the test binary
// several times with -test.benchtime=50000x (-count=K would repeat each
// sub-benchmark K times in a row) and compare medians of the ratios.
func BenchmarkVersusRaw(b *testing.B) {
	c := newClient(b)
	ctx := context.Background()

	b.Run("publish/raw", func(b *testing.B) {
		prefix := uniquePrefix(b, c)
		entries := rawEntries(benchMessages(b.N))
		runtime.GC()
		b.ResetTimer()
		start := time.Now()
		rawPublish(b, c, prefix+"trade", entries)
		reportRate(b, start)
	})
	b.Run("publish/transport", func(b *testing.B) {
		prefix := uniquePrefix(b, c)
		tr := newBenchTransport(b, c, prefix)
		msgs := benchMessages(b.N)
		runtime.GC()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < len(msgs); i += benchBatch {
			if err := publishBatch(ctx, tr, msgs[i:min(i+benchBatch, len(msgs))]); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, start)
	})
	b.Run("consume/raw", func(b *testing.B) {
		prefix := uniquePrefix(b, c)
		stream, group := prefix+"trade", "raw"
		if err := c.XGroupCreateMkStream(ctx, stream, group, "$").Err(); err != nil {
			b.Fatal(err)
		}
		rawPublish(b, c, stream, rawEntries(benchMessages(b.N)))
		runtime.GC()
		b.ResetTimer()
		start := time.Now()
		for got := 0; got < b.N; {
			res, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: group, Consumer: "c", Streams: []string{stream, ">"}, Count: benchBatch, Block: time.Second,
			}).Result()
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, 0, benchBatch)
			for _, xm := range res[0].Messages {
				ids = append(ids, xm.ID)
			}
			if err := c.XAck(ctx, stream, group, ids...).Err(); err != nil {
				b.Fatal(err)
			}
			got += len(ids)
		}
		reportRate(b, start)
	})
	b.Run("consume/transport", func(b *testing.B) {
		prefix := uniquePrefix(b, c)
		tr := newBenchTransport(b, c, prefix)
		sub, err := tr.Subscriber("bench")
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		if err := sub.(message.SubscribeInitializer).SubscribeInitialize("trade.#"); err != nil {
			b.Fatal(err)
		}
		rawPublish(b, c, prefix+"trade", rawEntries(benchMessages(b.N)))
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		runtime.GC()
		b.ResetTimer()
		start := time.Now()
		ch, err := sub.Subscribe(sctx, "trade.#")
		if err != nil {
			b.Fatal(err)
		}
		for range b.N {
			brokertest.Recv(b, ch, time.Minute).Ack()
		}
		reportRate(b, start)
	})
	benchConsumeHandler(b, c)
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func newBenchTransport(b *testing.B, c *redis.Client, prefix string) *transport.Portable {
	return newTransport(b, c, redisstream.WithPrefix(prefix))
}

// publishBatch sends msgs, each to its routingkey metadata, in one call.
func publishBatch(ctx context.Context, tr *transport.Portable, msgs []*message.Message) error {
	return tr.Publisher().(transport.BatchPublisher).PublishBatch(ctx, msgs)
}

// benchConsumeHandler measures the core's handler path (Subscriber.Consume:
// key-ordered workers, no channel) with a no-op handler.
func benchConsumeHandler(b *testing.B, c *redis.Client) {
	b.Run("consume/handler", func(b *testing.B) {
		prefix := uniquePrefix(b, c)
		tr := newBenchTransport(b, c, prefix)
		sub, err := tr.NewSubscriber("bench")
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		if err := sub.SubscribeInitialize("trade.#"); err != nil {
			b.Fatal(err)
		}
		rawPublish(b, c, prefix+"trade", rawEntries(benchMessages(b.N)))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var handled atomic.Int64
		done := make(chan struct{})
		runtime.GC()
		b.ResetTimer()
		start := time.Now()
		wait, err := sub.Consume(ctx, "trade.#", func(*message.Message) ([]*message.Message, error) {
			if handled.Add(1) == int64(b.N) {
				close(done)
			}
			return nil, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("handled %d of %d", handled.Load(), b.N)
		}
		reportRate(b, start)
		cancel()
	})
}
