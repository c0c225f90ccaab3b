package amqp_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/transport"
)

// BenchmarkConsumeSharded asks whether a consumer group sharded over
// several queues, one raw amqp091 consumer per queue, can outrun one queue
// on this broker: the same total number of messages is put on 1, 2 or 4
// queues (quorum, and classic v2 for comparison), then every queue is
// consumed at once, each by a consumer on a connection of its own
// (prefetch 512, a multiple ack per 256 or per 32 deliveries and for the
// last one).
// Only the consume phase is timed. The watermill-amqp adapter (prefetch
// 1024, one quorum queue) and the driver at its defaults run in the same
// rounds for the ratios. TRADEBUS_BENCH_BROKER_PID (the broker's pid, e.g.
// `pgrep -f beam.smp`) adds the broker's CPU per message.
//
//	go test -run '^$' -bench ConsumeSharded -benchtime 100000x ./transport/amqp
func BenchmarkConsumeSharded(b *testing.B) {
	e, drop, prefill := consumeBench(b)
	quorum := amqp091.Table{"x-queue-type": "quorum"}
	classic := amqp091.Table{"x-queue-type": "classic", "x-queue-version": int64(2)}
	const prefetch = 512
	variants := []variant{
		{"watermill-amqp-prefetch=1024", wmConsumeVariant(e, drop, prefill, 1024)},
		{"tradebus-concurrency=64", tbConsumeVariant(e, drop, prefill, transport.WithConcurrency(64))},
	}
	// Acks: a multiple ack per half window (what the brief asked), and one
	// per 32 deliveries (BenchmarkConsume's raw rows): a quorum queue logs
	// each settle through Raft, so fewer, larger acks leave fewer in flight.
	for _, ack := range []int{prefetch / 2, 32} {
		for _, shards := range []int{1, 2, 4} {
			name := fmt.Sprintf("raw-quorum-queues=%d-ack=%d", shards, ack)
			variants = append(variants, variant{name, func(b *testing.B, n int) (int, time.Duration) {
				return rawConsumeShards(b, e, drop, prefill, shardConsume{quorum, shards, prefetch, ack}, n)
			}})
		}
	}
	for _, shards := range []int{1, 4} {
		name := fmt.Sprintf("raw-classic-v2-queues=%d-ack=32", shards)
		variants = append(variants, variant{name, func(b *testing.B, n int) (int, time.Duration) {
			return rawConsumeShards(b, e, drop, prefill, shardConsume{classic, shards, prefetch, 32}, n)
		}})
	}
	r := &rates{m: map[string][]float64{}}
	r.runRounds(b, variants)
	const wm = "watermill-amqp-prefetch=1024"
	r.log(b,
		[2]string{"tradebus-concurrency=64", wm},
		[2]string{"raw-quorum-queues=1-ack=256", wm},
		[2]string{"raw-quorum-queues=2-ack=256", wm},
		[2]string{"raw-quorum-queues=4-ack=256", wm},
		[2]string{"raw-quorum-queues=1-ack=32", wm},
		[2]string{"raw-quorum-queues=2-ack=32", wm},
		[2]string{"raw-quorum-queues=4-ack=32", wm},
		[2]string{"raw-classic-v2-queues=1-ack=32", wm},
		[2]string{"raw-classic-v2-queues=4-ack=32", wm},
		[2]string{"raw-quorum-queues=2-ack=256", "raw-quorum-queues=1-ack=256"},
		[2]string{"raw-quorum-queues=4-ack=256", "raw-quorum-queues=1-ack=256"},
		[2]string{"raw-quorum-queues=2-ack=32", "raw-quorum-queues=1-ack=32"},
		[2]string{"raw-quorum-queues=4-ack=32", "raw-quorum-queues=1-ack=32"},
		[2]string{"raw-quorum-queues=1-ack=32", "raw-quorum-queues=1-ack=256"},
		[2]string{"raw-classic-v2-queues=1-ack=32", "raw-quorum-queues=1-ack=32"},
	)
}

// shardConsume is one raw sharded consume row: queues queues declared with
// args, each consumed at prefetch, with a multiple ack per ackEvery
// deliveries.
type shardConsume struct {
	args                       amqp091.Table
	queues, prefetch, ackEvery int
}

// rawConsumeShards declares c.queues queues, puts n messages on them in
// turn (as evenly as n allows, through the default exchange), then times
// consuming all of them at once, one consumer per queue on a connection of
// its own, acking with multiple=true every c.ackEvery deliveries and for
// the last one. It deletes the queues.
func rawConsumeShards(b *testing.B, e *env, drop func(*testing.B, string),
	prefill func(b *testing.B, exchange, key string, n int), c shardConsume, n int) (int, time.Duration) {
	args, shards, prefetch := c.args, c.queues, c.prefetch
	b.Helper()
	adm := admin(b, e.url)
	queues := make([]string, shards)
	counts := make([]int, shards)
	suffix := randSuffix()
	for i := range queues {
		queues[i] = fmt.Sprintf("tbtest-bench-shard-%s-%d", suffix, i)
		counts[i] = n / shards
		if i < n%shards {
			counts[i]++
		}
		e.clean.queue(queues[i])
		if _, err := adm.QueueDeclare(queues[i], true, false, false, false, args); err != nil {
			b.Fatal(err)
		}
		defer drop(b, queues[i])
	}
	for i, q := range queues {
		if counts[i] > 0 {
			prefill(b, "", q, counts[i]) // through the default exchange
		}
	}
	chs := make([]*amqp091.Channel, shards)
	for i := range chs {
		chs[i] = admin(b, e.url)
		if err := chs[i].Qos(prefetch, 0, false); err != nil {
			b.Fatal(err)
		}
	}
	every := max(1, c.ackEvery)
	return timed(n, func() {
		var wg sync.WaitGroup
		for i, ch := range chs {
			if counts[i] == 0 {
				continue
			}
			ds, err := ch.Consume(queues[i], "", false, false, false, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			wg.Go(func() {
				for k := range counts[i] {
					d, ok := <-ds
					if !ok {
						b.Errorf("queue %s: deliveries closed after %d of %d", queues[i], k, counts[i])
						return
					}
					if k%every == every-1 || k == counts[i]-1 {
						if err := d.Ack(true); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
	})
}
