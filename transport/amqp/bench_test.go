package amqp_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/cputime"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
)

// The benchmarks compare, in one run against the real broker, confirmed
// persistent publishes and acked consumption through this package, through
// raw amqp091-go (the client floor: asynchronous deferred confirms, a
// sliding window of messages in flight) and through watermill-amqp v3's
// default durable pub/sub config with confirms. Every message is routed to
// one quorum queue, so confirms wait for the broker's fsync. Each parent
// benchmark logs the rates of its sub-benchmarks and their ratios.
//
//	go test -run '^$' -bench . -benchtime 20000x ./transport/amqp

const benchKey = "trade.binance.BTCUSDT"

var benchBody = []byte(`{"id":"123456789","price":"64123.45000000","amount":"0.01230000","side":"buy","taker":true,` +
	`"time":"2026-01-02T03:04:05.123456789Z","symbol":"BTCUSDT","venue":"binance"}`)

// benchMsg is a message with the metadata package publisher sets.
func benchMsg(i int) *message.Message {
	id := uuid.Must(uuid.NewV7()).String()
	sym := "S" + strconv.Itoa(i%64)
	m := message.NewMessage(id, benchBody)
	m.Metadata = message.Metadata{
		events.MetaID: id, events.MetaSource: "bench", events.MetaSpecVersion: events.SpecVersion,
		events.MetaType: "tradebus.trade.v1", events.MetaSubject: sym,
		events.MetaTime: "2026-01-02T03:04:05.123456789Z", events.MetaDataContentType: events.ContentTypeJSON,
		events.MetaPartitionKey: sym, events.MetaRoutingKey: benchKey,
	}
	return m
}

// rawPublishing is benchMsg as an AMQP publishing, built once: raw
// publishes pay no per-message conversion.
func rawPublishing(i int) amqp091.Publishing {
	m := benchMsg(i)
	h := amqp091.Table{}
	for k, v := range m.Metadata {
		h[k] = v
	}
	return amqp091.Publishing{Headers: h, Body: m.Payload, DeliveryMode: amqp091.Persistent,
		ContentType: events.ContentTypeJSON, MessageId: m.UUID, Timestamp: time.Now()}
}

// rates records the msgs/s of each sub-benchmark per round. The variants
// run interleaved, round after round (TRADEBUS_BENCH_ROUNDS, default 3), so
// that a change in machine load hits all of them alike; ratios are taken
// within a round and their median over the rounds is printed.
type rates struct {
	mu sync.Mutex
	m  map[string][]float64
}

func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("TRADEBUS_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// variant is one sub-benchmark: it handles about n messages and returns
// how many it timed and for how long (serial variants time a tenth, so that
// a run stays short; consumers do not time the prefill).
type variant struct {
	name string
	fn   func(b *testing.B, n int) (int, time.Duration)
}

// timedBroker is the broker's CPU time during the last timed call (0:
// unknown), timedClient this process's. The variants run one at a time.
var timedBroker, timedClient time.Duration

// timed runs fn and returns n and fn's duration.
func timed(n int, fn func()) (int, time.Duration) {
	broker0, client0 := brokerCPU(), cpuTime()
	start := time.Now()
	fn()
	d := time.Since(start)
	timedClient = cpuTime() - client0
	if broker0 > 0 {
		timedBroker = brokerCPU() - broker0
	}
	return n, d
}

// runRounds runs the variants interleaved, benchRounds times.
// Odd rounds run the variants in reverse order, so that none always runs
// right after the same neighbour.
func (r *rates) runRounds(b *testing.B, variants []variant) {
	reversed := slices.Clone(variants)
	slices.Reverse(reversed)
	for round := range benchRounds() {
		order := variants
		if round%2 == 1 {
			order = reversed
		}
		for _, v := range order {
			b.Run(v.name, func(b *testing.B) {
				b.ReportAllocs() // per message: the whole process, setup included
				cpu0 := cpuTime()
				timedBroker, timedClient = 0, 0
				n, d := v.fn(b, b.N)
				// Client CPU in the timed part only: with the broker's,
				// what a message costs the machine, whatever its load.
				b.ReportMetric(float64(timedClient.Microseconds())/float64(n), "timed-cpu-µs/msg")
				if timedBroker > 0 {
					// The broker's CPU in the timed part
					// (TRADEBUS_BENCH_BROKER_PID).
					b.ReportMetric(float64(timedBroker.Microseconds())/float64(n), "broker-cpu-µs/msg")
				}
				rate := float64(n) / d.Seconds()
				b.ReportMetric(rate, "msgs/s")
				// Client CPU (user+system, whole process, setup included)
				// per message: independent of the broker's latency.
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/msg")
				b.ReportMetric(0, "ns/op")
				if b.N > 1 { // b.Run probes with b.N = 1 first
					r.mu.Lock()
					r.m[v.name] = append(r.m[v.name], rate)
					r.mu.Unlock()
				}
			})
		}
	}
}

// brokerCPU is the user+system CPU time so far of the broker process
// TRADEBUS_BENCH_BROKER_PID names (a broker on this machine, Linux), or 0.
func brokerCPU() time.Duration {
	pid, _ := strconv.Atoi(os.Getenv("TRADEBUS_BENCH_BROKER_PID"))
	d, _ := cputime.Of(pid)
	return d
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration { d, _ := cputime.Process(); return d }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *rates) log(b *testing.B, pairs ...[2]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sb strings.Builder
	for _, p := range pairs {
		a, base := r.m[p[0]], r.m[p[1]]
		n := min(len(a), len(base))
		if n == 0 {
			continue
		}
		ratios := make([]float64, n)
		for i := range n {
			ratios[i] = a[i] / base[i]
		}
		fmt.Fprintf(&sb, "\n  %-30s %7.0f msgs/s vs %-30s %7.0f msgs/s: median ratio %.2fx (rounds: %s)",
			p[0], median(a), p[1], median(base), median(ratios), fmtRatios(ratios))
	}
	// b.Log of a benchmark with sub-benchmarks only shows with -v.
	fmt.Printf("%s ratios (%d rounds):%s\n", b.Name(), benchRounds(), sb.String())
}

func fmtRatios(rs []float64) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.2f", r))
	}
	return strings.Join(parts, " ")
}

// benchSetup declares a fresh quorum queue bound to the env's exchange
// (and to watermill-amqp's fanout exchange for topic benchKey) and returns
// a raw channel and a function deleting the queue. A fresh queue per run
// keeps a purged queue's background work out of the next measurement.
func benchSetup(b *testing.B, e *env, queue string) (*amqp091.Channel, func()) {
	b.Helper()
	return benchSetupArgs(b, e, queue, amqp091.Table{"x-queue-type": "quorum"})
}

// benchSetupArgs is benchSetup with the queue's arguments.
func benchSetupArgs(b *testing.B, e *env, queue string, args amqp091.Table) (*amqp091.Channel, func()) {
	b.Helper()
	ch := admin(b, e.url)
	e.clean.queue(queue)
	e.clean.exchange(benchKey)
	if err := ch.ExchangeDeclare(e.exchange, amqp091.ExchangeTopic, true, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	if err := ch.ExchangeDeclare(benchKey, amqp091.ExchangeFanout, true, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, args); err != nil {
		b.Fatal(err)
	}
	if err := ch.QueueBind(queue, "#", e.exchange, false, nil); err != nil {
		b.Fatal(err)
	}
	if err := ch.QueueBind(queue, "", benchKey, false, nil); err != nil {
		b.Fatal(err)
	}
	return ch, func() {
		if _, err := ch.QueueDelete(queue, false, false, false); err != nil {
			b.Fatal(err)
		}
	}
}

// rawPublish publishes n messages on ch (confirm mode) keeping up to
// window in flight.
func rawPublish(b *testing.B, ch *amqp091.Channel, exchange, key string, n, window int, pubs []amqp091.Publishing) {
	b.Helper()
	ring := make([]*amqp091.DeferredConfirmation, window)
	wait := func(dc *amqp091.DeferredConfirmation) {
		if dc != nil && !dc.Wait() {
			b.Fatal("nack")
		}
	}
	for i := range n {
		slot := i % window
		wait(ring[slot])
		dc, err := ch.PublishWithDeferredConfirm(exchange, key, false, false, pubs[i%len(pubs)])
		if err != nil {
			b.Fatal(err)
		}
		ring[slot] = dc
	}
	for _, dc := range ring {
		wait(dc)
	}
}

func rawConfirmChannel(b *testing.B, url string) *amqp091.Channel {
	ch := admin(b, url)
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	return ch
}

func BenchmarkPublish(b *testing.B) {
	e := newEnv(b)
	// fresh binds a new queue for one run and returns its deletion.
	fresh := func(b *testing.B) func() {
		_, drop := benchSetup(b, e, "tbtest-bench-pub-"+randSuffix())
		return drop
	}
	tr := e.transport(b)
	if err := tr.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	pubs := make([]amqp091.Publishing, 1000)
	msgs := make([]*message.Message, 1000)
	for i := range pubs {
		pubs[i] = rawPublishing(i)
		msgs[i] = benchMsg(i)
	}
	r := &rates{m: map[string][]float64{}}
	// concurrently publishes n messages from 64 goroutines, one per call.
	concurrently := func(b *testing.B, n int, publish func(*message.Message) error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					if err := publish(msgs[i%len(msgs)]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	tradebus := func(m *message.Message) error { return tr.Publisher().Publish(benchKey, m) }
	wmPublisher := func(b *testing.B) *wamqp.Publisher {
		cfg := wamqp.NewDurablePubSubConfig(e.url, nil)
		cfg.Publish.ConfirmDelivery = true
		pub, err := wamqp.NewPublisher(cfg, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		return pub
	}
	var variants []variant
	for _, w := range []int{64, 1000} {
		variants = append(variants, variant{fmt.Sprintf("raw-async-window=%d", w), func(b *testing.B, n int) (int, time.Duration) {
			ch := rawConfirmChannel(b, e.url)
			defer fresh(b)()
			return timed(n, func() { rawPublish(b, ch, e.exchange, benchKey, n, w, pubs) })
		}})
	}
	variants = append(variants,
		variant{"raw-batch=1000", func(b *testing.B, n int) (int, time.Duration) {
			// Publish 1000, wait for their confirms, repeat: what one
			// Publish(topic, 1000 messages) call does.
			ch := rawConfirmChannel(b, e.url)
			defer fresh(b)()
			return timed(n, func() {
				for i := 0; i < n; i += 1000 {
					k := min(1000, n-i)
					rawPublish(b, ch, e.exchange, benchKey, k, k, pubs)
				}
			})
		}},
		variant{"raw-concurrent=64", func(b *testing.B, n int) (int, time.Duration) {
			// 64 goroutines share one confirm-mode channel, each
			// publishing one message and waiting for its confirm.
			ch := rawConfirmChannel(b, e.url)
			defer fresh(b)()
			var i atomic.Int64
			return timed(n, func() {
				concurrently(b, n, func(*message.Message) error {
					dc, err := ch.PublishWithDeferredConfirm(e.exchange, benchKey, false, false, pubs[int(i.Add(1))%len(pubs)])
					if err != nil {
						return err
					}
					if !dc.Wait() {
						return errors.New("nack")
					}
					return nil
				})
			})
		}},
		variant{"tradebus-concurrent=64", func(b *testing.B, n int) (int, time.Duration) {
			defer fresh(b)()
			return timed(n, func() { concurrently(b, n, tradebus) })
		}},
		variant{"tradebus-batch=1000", func(b *testing.B, n int) (int, time.Duration) {
			defer fresh(b)()
			return timed(n, func() {
				for i := 0; i < n; i += len(msgs) {
					if err := tr.Publisher().Publish(benchKey, msgs[:min(len(msgs), n-i)]...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}},
		variant{"tradebus-serial", func(b *testing.B, n int) (int, time.Duration) {
			defer fresh(b)()
			n = max(1, n/10)
			return timed(n, func() {
				for i := range n {
					if err := tradebus(msgs[i%len(msgs)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}},
		variant{"watermill-amqp-serial", func(b *testing.B, n int) (int, time.Duration) {
			pub := wmPublisher(b)
			defer fresh(b)()
			defer func() { _ = pub.Close() }()
			n = max(1, n/10)
			return timed(n, func() {
				for i := range n {
					if err := pub.Publish(benchKey, msgs[i%len(msgs)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}},
		variant{"watermill-amqp-concurrent=64", func(b *testing.B, n int) (int, time.Duration) {
			pub := wmPublisher(b)
			defer fresh(b)()
			defer func() { _ = pub.Close() }()
			return timed(n, func() {
				concurrently(b, n, func(m *message.Message) error { return pub.Publish(benchKey, m) })
			})
		}},
	)
	r.runRounds(b, variants)
	r.log(b,
		[2]string{"tradebus-concurrent=64", "raw-async-window=64"},
		[2]string{"tradebus-concurrent=64", "raw-concurrent=64"},
		[2]string{"tradebus-batch=1000", "raw-batch=1000"},
		[2]string{"tradebus-batch=1000", "raw-async-window=1000"},
		[2]string{"tradebus-concurrent=64", "watermill-amqp-concurrent=64"},
		[2]string{"tradebus-serial", "watermill-amqp-serial"},
		[2]string{"watermill-amqp-serial", "raw-async-window=1000"},
	)
}

// consumeBench is what the consume benchmarks share: the env, drop (delete
// a queue) and prefill (publish n messages, 64 partition keys, with
// confirms, not timed).
func consumeBench(b *testing.B) (e *env, drop func(*testing.B, string), prefill func(b *testing.B, exchange, key string, n int)) {
	e = newEnv(b)
	adm := admin(b, e.url)
	drop = func(b *testing.B, queue string) {
		if _, err := adm.QueueDelete(queue, false, false, false); err != nil {
			b.Fatal(err)
		}
	}
	pubs := make([]amqp091.Publishing, 1000)
	for i := range pubs {
		pubs[i] = rawPublishing(i)
	}
	prefill = func(b *testing.B, exchange, key string, n int) {
		rawPublish(b, rawConfirmChannel(b, e.url), exchange, key, n, 1000, pubs)
	}
	return e, drop, prefill
}

func BenchmarkConsume(b *testing.B) {
	e, drop, prefill := consumeBench(b)
	r := &rates{m: map[string][]float64{}}
	// rawMultiack consumes a queue declared with args at prefetch 128,
	// acking with multiple=true once per 32 deliveries (and for the last
	// ones): the baseline.
	rawMultiack := func(args amqp091.Table, prefetch int) func(b *testing.B, n int) (int, time.Duration) {
		return func(b *testing.B, n int) (int, time.Duration) {
			queue := "tbtest-bench-raw-" + randSuffix()
			ch, _ := benchSetupArgs(b, e, queue, args)
			defer drop(b, queue)
			prefill(b, e.exchange, benchKey, n)
			if err := ch.Qos(prefetch, 0, false); err != nil {
				b.Fatal(err)
			}
			return timed(n, func() {
				ds, err := ch.Consume(queue, "", false, false, false, false, nil)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					d := <-ds
					if i%32 == 31 || i == n-1 {
						if err := d.Ack(true); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
	variants := []variant{{"raw-prefetch=128", func(b *testing.B, n int) (int, time.Duration) {
		queue := "tbtest-bench-raw-" + randSuffix()
		ch, _ := benchSetup(b, e, queue)
		defer drop(b, queue)
		prefill(b, e.exchange, benchKey, n)
		if err := ch.Qos(128, 0, false); err != nil {
			b.Fatal(err)
		}
		return timed(n, func() {
			ds, err := ch.Consume(queue, "", false, false, false, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				d := <-ds
				if err := d.Ack(false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}}, {"raw-prefetch=128-multiack", rawMultiack(amqp091.Table{"x-queue-type": "quorum"}, 128)},
		// The driver's default window.
		{"raw-prefetch=512-multiack", rawMultiack(amqp091.Table{"x-queue-type": "quorum"}, 512)},
		// The same on a classic queue, version 2 (RabbitMQ 3.10+): the
		// other queue type the driver can declare.
		{"raw-prefetch=128-multiack-classic-v2", rawMultiack(amqp091.Table{"x-queue-type": "classic", "x-queue-version": int64(2)}, 128)},
	}
	// The broker's ceiling for one queue: raw consumers sharing it, each on
	// a connection of its own (prefetch 128, a multiple ack per 32). One
	// queue feeding several consumers does not keep key order: this is a
	// measure of the broker, not a configuration the driver may use.
	for _, consumers := range []int{2, 4} {
		variants = append(variants, variant{fmt.Sprintf("raw-prefetch=128-consumers=%d", consumers), func(b *testing.B, n int) (int, time.Duration) {
			queue := "tbtest-bench-raw-" + randSuffix()
			benchSetup(b, e, queue)
			defer drop(b, queue)
			prefill(b, e.exchange, benchKey, n)
			chs := make([]*amqp091.Channel, consumers)
			for i := range chs {
				chs[i] = admin(b, e.url)
				if err := chs[i].Qos(128, 0, false); err != nil {
					b.Fatal(err)
				}
			}
			return timed(n, func() { rawConsumeShared(b, chs, queue, n) })
		}})
	}
	type tbVariant struct {
		name string
		opts []any
	}
	tbVariants := []tbVariant{
		{"tradebus-concurrency=64", []any{transport.WithConcurrency(64)}},
		{"tradebus-concurrency=1", []any{transport.WithConcurrency(1)}},
		// Prefetch: the default is twice the core's batch (512).
		{"tradebus-concurrency=64-prefetch=128", []any{transport.WithConcurrency(64), amqp.WithPrefetch(128)}},
		{"tradebus-concurrency=64-prefetch=2048", []any{transport.WithConcurrency(64), amqp.WithPrefetch(2048)}},
	}
	for _, tv := range tbVariants {
		variants = append(variants, variant{tv.name, tbConsumeVariant(e, drop, prefill, tv.opts...)})
	}
	wmConsume := func(prefetch int) func(b *testing.B, n int) (int, time.Duration) {
		return wmConsumeVariant(e, drop, prefill, prefetch)
	}
	variants = append(variants,
		variant{"watermill-amqp-default", wmConsume(0)},
		variant{"watermill-amqp-prefetch=128", wmConsume(128)},
		// The adapter holds one message at a time and acks each alone: a
		// larger window only keeps more on the wire.
		variant{"watermill-amqp-prefetch=1024", wmConsume(1024)},
	)
	r.runRounds(b, variants)
	r.log(b,
		[2]string{"tradebus-concurrency=64", "raw-prefetch=128"},
		[2]string{"tradebus-concurrency=64", "raw-prefetch=128-multiack"},
		[2]string{"tradebus-concurrency=1", "raw-prefetch=128"},
		[2]string{"raw-prefetch=128-consumers=2", "raw-prefetch=128-multiack"},
		[2]string{"raw-prefetch=128-consumers=4", "raw-prefetch=128-multiack"},
		[2]string{"raw-prefetch=128-consumers=4", "watermill-amqp-prefetch=128"},
		[2]string{"raw-prefetch=128-multiack-classic-v2", "raw-prefetch=128-multiack"},
		[2]string{"tradebus-concurrency=64-prefetch=128", "tradebus-concurrency=64"},
		[2]string{"tradebus-concurrency=64-prefetch=2048", "tradebus-concurrency=64"},
		[2]string{"tradebus-concurrency=64", "watermill-amqp-default"},
		[2]string{"tradebus-concurrency=64", "watermill-amqp-prefetch=128"},
		[2]string{"watermill-amqp-prefetch=1024", "watermill-amqp-prefetch=128"},
		[2]string{"raw-prefetch=128-consumers=4", "tradebus-concurrency=64"},
		[2]string{"raw-prefetch=512-multiack", "raw-prefetch=128-multiack"},
		[2]string{"tradebus-concurrency=64", "raw-prefetch=512-multiack"},
	)
}

// rawConsumeShared consumes queue on every channel of chs at once until n
// messages arrived in all, each consumer acking with multiple=true every 32
// deliveries.
func rawConsumeShared(b *testing.B, chs []*amqp091.Channel, queue string, n int) {
	var (
		got  atomic.Int64
		wg   sync.WaitGroup
		done = make(chan struct{})
		once sync.Once
	)
	for i, ch := range chs {
		tag := "bench-" + strconv.Itoa(i)
		ds, err := ch.Consume(queue, tag, false, false, false, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			k := 0
			for {
				select {
				case d := <-ds:
					k++
					if k%32 == 0 {
						if err := d.Ack(true); err != nil {
							b.Error(err)
							return
						}
					}
					if got.Add(1) >= int64(n) {
						once.Do(func() { close(done) })
					}
				case <-done:
					return
				}
			}
		})
	}
	<-done
	wg.Wait()
	for i, ch := range chs {
		// Stop deliveries; what is unacked returns when the channel closes.
		if err := ch.Cancel("bench-"+strconv.Itoa(i), false); err != nil {
			b.Error(err)
		}
	}
}

// wmConsumeVariant consumes through watermill-amqp v3's durable pub/sub
// config on a quorum queue (prefetch 0: the adapter's default, one message
// in flight, timing a tenth of n), after prefill put n messages on it.
// tbConsumeVariant is a consume row of the driver with opts: a group's
// queue filled with n messages, then consumed and acked one by one.
func tbConsumeVariant(e *env, drop func(*testing.B, string), prefill func(b *testing.B, exchange, key string, n int),
	opts ...any) func(b *testing.B, n int) (int, time.Duration) {
	return func(b *testing.B, n int) (int, time.Duration) {
		tr := e.transport(b, opts...)
		group := "bench" + randSuffix()
		queue := tr.QueueName(group, "trade.#")
		e.clean.queue(queue)
		defer drop(b, queue)
		sub, err := tr.Subscriber(group)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = sub.Close() }()
		if err := sub.(message.SubscribeInitializer).SubscribeInitialize("trade.#"); err != nil {
			b.Fatal(err)
		}
		prefill(b, e.exchange, benchKey, n)
		return timed(n, func() {
			ch, err := sub.Subscribe(context.Background(), "trade.#")
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				(<-ch).Ack()
			}
		})
	}
}

func wmConsumeVariant(e *env, drop func(*testing.B, string), prefill func(b *testing.B, exchange, key string, n int),
	prefetch int) func(b *testing.B, n int) (int, time.Duration) {
	return func(b *testing.B, n int) (int, time.Duration) {
		topic := "tbtest-wm-" + randSuffix()
		e.clean.exchange(topic)
		e.clean.queue(topic)
		defer drop(b, topic)
		cfg := wamqp.NewDurablePubSubConfig(e.url, wamqp.GenerateQueueNameTopicName)
		cfg.Queue.Arguments = amqp091.Table{"x-queue-type": "quorum"}
		if prefetch > 0 {
			cfg.Consume.Qos.PrefetchCount = prefetch
		} else {
			n = max(1, n/10) // prefetch 1: slow
		}
		sub, err := wamqp.NewSubscriber(cfg, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = sub.Close() }()
		if err := sub.SubscribeInitialize(topic); err != nil {
			b.Fatal(err)
		}
		prefill(b, topic, "", n)
		return timed(n, func() {
			ch, err := sub.Subscribe(context.Background(), topic)
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				(<-ch).Ack()
			}
		})
	}
}
