// Command tradebus-bench measures tradebus against baselines measured in
// the same run and prints ratios (medians of several runs), because the
// machines it runs on are shared and noisy.
//
//	go run ./cmd/tradebus-bench -transports mem,amqp,kafka,redis,nats -n 20000 -runs 3
//	                                           # compare (default): per transport, raw client at its best vs
//	                                           # Watermill adapter vs tradebus typed (publish, consume, p99, allocs)
//	go run ./cmd/tradebus-bench -suite rebuild -transports kafka,redis,nats -n 50000 -runs 3
//	                                           # per transport that keeps history: projection rebuild vs transport.Read vs the raw client reading the same history
//	go run ./cmd/tradebus-bench -suite e2e     # typed mem path vs raw Watermill GoChannel router (two configs), also with 50µs handler work
//	go run ./cmd/tradebus-bench -suite codec   # encode+decode per event (Trade, Ticker, order books), allocations
//	go run ./cmd/tradebus-bench -suite transports -urls mem://,amqp://…,kafka://,redis://…,nats://…
//	go run ./cmd/tradebus-bench -transports amqp -latency paired -runs 5 -lat-n 3000
//	                                           # only the paired latency phase: raw and typed fast paths at once
//	go run ./cmd/tradebus-bench -transports nats -only "(subscriber.Group)" -consume-profile /tmp/p
//	                                           # one typed row and the raw one; CPU profiles of the consume phases
//
// # The compare suite
//
// Per transport, rows measured in one run with interleaved reps (raw,
// adapter, typed, typed+middleware, raw, …), medians printed with the typed
// rows' ratios against the raw client at its best and the Watermill adapter:
//
//   - raw: franz-go async Produce + group consumer with commit marks, once
//     with kgo's default fetch size and once with FetchMaxBytes 256 KiB, its
//     best on kfake (each column's ratio is against the better of the two);
//     amqp091-go with 256 unconfirmed publishes in flight and a prefetch-512
//     consumer acking multiple=true; go-redis XADD pipelined 256 and
//     XREADGROUP COUNT 256 + one XACK per batch; nats.go jetstream
//     PublishAsync (256 pending) and Consume + Ack; on mem, Watermill's
//     GoChannel (default config) with a router.
//   - adapter: watermill-amqp v3, watermill-kafka v3 (sarama), watermill-redisstream,
//     watermill-nats v2, publishing one message at a time from one goroutine and
//     consuming through a router.
//   - typed: publisher.Publish with batches of 256 events, subscriber.Handle on a
//     router (decode, validate, no-op handler); and the same behind
//     middleware.Default. More typed consume paths: typedConsumers.
//
// Every row sends the same Trade (16 symbols; raw rows send the bytes of
// events.Marshal with the typed publisher's envelope as headers). A rep
// publishes -n messages from one goroutine (publish rate; at most
// -max-publish long), then consumes that backlog (consume rate), then
// publishes -lat-n more one at a time at -lat-rate/s and records each
// message's publish→handler latency (p50, p99), stamped when handed to
// the publisher. The raw and typed rows publish there without waiting for
// the broker (the raw rows keep confirms in flight, go-redis from 16
// goroutines pipelining what is queued; the typed rows use
// publisher.Async), so the events due while a broker stalls are sent on
// time and their latency shows the stall. A publisher that waits (the
// Watermill adapters') sends them late, and their latency misses it: the
// behind column (p99 of how late an event was handed to the publisher)
// shows that.
//
// Those latency phases run one row after the other, so a row's p99 mostly
// says which stalls (a collection, the shared broker, other processes) hit
// its window. The paired phase (-latency paired, or both: the default)
// runs the raw row and the typed fast paths (subscriber.Group, bare and
// behind middleware.Default) at the same time in this process, each on
// broker objects of its own, paced by one loop that hands event i to every
// path back to back, the first path rotating with i, -lat-n events at
// -lat-rate/s each, open loop. It prints per path the medians over the runs
// of p50, p99 and p99.9, of behind (how late the pacer was) and of call
// (p99 of one publish call: a path that blocks makes every path's sends
// late), and per typed path the median, lowest and highest over the runs
// of typed p99 ÷ raw p99 of the same run. -latency rows skips it, -latency
// paired measures only it. Allocations are
// runtime.MemStats.Mallocs per message. Each row creates its broker objects
// (exchange, queue, topic, group, stream, consumer) under a name unique to
// the run and deletes them when it ends, also on error or interrupt.
//
// # The rebuild suite
//
// Per transport that keeps history (Kafka, Redis Streams, NATS JetStream;
// mem when transport.Open accepts mem://?history=N, else it is skipped
// with the reason printed), -n Trades (16 symbols) are published once
// with publisher.Publish (batches of 256) under a namespace unique to the
// run, then read again in every rep, rows interleaved:
//
//   - raw: the broker's client at its best reading that history with no
//     tradebus code, counting the messages and summing their payload
//     lengths (no decode): franz-go consuming every partition directly
//     (no group) from its start offset to the high watermark listed when
//     the read starts; go-redis XRANGE pages of 1000 up to the last entry;
//     nats.go's jetstream ordered consumer (AckNone) with Consume up to the
//     stream's last message.
//   - raw+decode: the same plus events.Unmarshal[events.Trade] per message.
//   - read: transport.Read from the beginning with a no-op fn.
//   - rebuild: a projection (per-symbol count and notional with
//     events.Decimal, projection.MemStore, the default SnapshotEvery) run
//     from scratch until CaughtUp, having applied -n events; its state is
//     then checked against the published trades.
//
// It prints medians of events/s, allocations (runtime.MemStats.Mallocs
// per event, whole process) and this process's CPU per event, and the
// ratios rebuild ÷ raw, rebuild ÷ raw+decode, rebuild ÷ read and
// read ÷ raw measured in the same run. Kafka without
// TRADEBUS_TEST_KAFKA_BROKERS runs on an in-process kfake cluster, whose
// allocations and CPU are counted with the client's. The namespace is
// removed at the end and the suite checks that nothing of the run is left.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	suite := flag.String("suite", "compare", "what to measure: compare, rebuild, e2e, codec, all, transports")
	names := flag.String("transports", "", "compare, rebuild: transports to measure (default compare: mem,amqp,kafka,redis,nats; rebuild: mem,kafka,redis,nats)")
	latN := flag.Int("lat-n", 2000, "compare: events of the latency phase (paced)")
	maxPub := flag.Duration("max-publish", 30*time.Second, "compare: end a row's publish phase after this long (it then consumes what it published); 0 = always n")
	latRate := flag.Int("lat-rate", 1000, "compare: events/s of the latency phase")
	latency := flag.String("latency", latencyBoth, "compare: rows (each row's own latency phase), paired (only the paired phase: raw and typed fast paths at once, no throughput rows) or both")
	amqpURL := flag.String("amqp", envOr("TRADEBUS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "compare: RabbitMQ URL (env TRADEBUS_TEST_AMQP_URL)")
	redisURL := flag.String("redis", envOr("TRADEBUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), "compare: Redis URL (env TRADEBUS_TEST_REDIS_URL)")
	natsURL := flag.String("nats", envOr("TRADEBUS_TEST_NATS_URL", "nats://127.0.0.1:4222"), "compare: NATS URL (env TRADEBUS_TEST_NATS_URL)")
	kafkaURL := flag.String("kafka", kafkaEnvURL(), "compare: kafka://host:port,… (env TRADEBUS_TEST_KAFKA_BROKERS, host:port,…); empty starts an in-process kfake cluster")
	n := flag.Int("n", 100_000, "events per run")
	runs := flag.Int("runs", 5, "runs per measurement (the median is printed)")
	keys := flag.Int("keys", 16, "partition keys (symbols)")
	conc := flag.Int("concurrency", 64, "in-flight messages per subscription for the concurrent typed path")
	work := flag.Duration("work", 50*time.Microsecond, "e2e: also measure with a handler that sleeps this long per event (I/O-bound); 0 skips")
	workN := flag.Int("work-n", 3_000, "e2e: events per run of the handler-work measurement")
	only := flag.String("only", "", "e2e: measure only the paths whose label contains this; compare: only the rows whose name contains it, and the raw row (for profiling)")
	urls := flag.String("urls", "mem://", "comma-separated transport URLs for -suite transports")
	publishers := flag.Int("publishers", 4, "publishing goroutines for -suite transports")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	brokerPID := flag.Int("broker-pid", 0, "compare: the process id of a broker on this machine (Linux); its CPU time per message is reported too")
	consumeProfile := flag.String("consume-profile", "", "compare: write a CPU profile of each consume phase to PREFIX.<raw|adapter|typed>.<n> (not with -cpuprofile; merge them with go tool pprof)")
	publishProfile := flag.String("publish-profile", "", "compare: write a CPU profile of each publish phase to PREFIX.<raw|adapter|typed>.<n> (not with -cpuprofile)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tradebus-bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "tradebus-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	cfg := e2eConfig{N: *n, Keys: *keys, Concurrency: *conc, Work: *work, WorkN: *workN}
	var err error
	switch *suite {
	case "rebuild":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = rebuildSuite(ctx, os.Stdout, transportList(*names, rebuildTransports), *runs, *n, *keys,
			brokerURLs{redis: *redisURL, nats: *natsURL, kafka: *kafkaURL})
		stop()
	case "compare":
		if *latency != latencyRows && *latency != latencyPaired && *latency != latencyBoth {
			err = fmt.Errorf("-latency %q: want rows, paired or both", *latency)
			break
		}
		pc := phaseConfig{N: *n, LatN: *latN, LatRate: *latRate, Timeout: 5 * time.Minute, MaxPublish: *maxPub, Only: *only, Latency: *latency, ConsumeProfile: *consumeProfile, PublishProfile: *publishProfile, BrokerPID: *brokerPID}
		// Interrupted, the current row still deletes its broker objects.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = compare(ctx, os.Stdout, transportList(*names, compareTransports), *runs, *keys, pc,
			brokerURLs{amqp: *amqpURL, redis: *redisURL, nats: *natsURL, kafka: *kafkaURL})
		stop()
	case "transports":
		err = transports(context.Background(), os.Stdout, *runs, cfg, strings.Split(*urls, ","), *publishers)
	default:
		err = run(context.Background(), os.Stdout, *suite, *runs, cfg, *only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tradebus-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, suite string, runs int, cfg e2eConfig, only string) error {
	switch suite {
	case "e2e":
		return e2e(ctx, w, runs, cfg, only)
	case "codec":
		return codec(w)
	case "all":
		if err := e2e(ctx, w, runs, cfg, only); err != nil {
			return err
		}
		return codec(w)
	default:
		return fmt.Errorf("unknown suite %q (want e2e, codec or all)", suite)
	}
}

// median of the measurements (events per second).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// transportList is the comma-separated list s, or def when s is empty.
func transportList(s string, def []string) []string {
	if s == "" {
		return def
	}
	return strings.Split(s, ",")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// kafkaEnvURL is the kafka:// URL of TRADEBUS_TEST_KAFKA_BROKERS (a
// comma-separated host:port list, as the tests read it), or "".
func kafkaEnvURL() string {
	if b := os.Getenv("TRADEBUS_TEST_KAFKA_BROKERS"); b != "" {
		return "kafka://" + b
	}
	return ""
}
