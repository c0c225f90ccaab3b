package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// compareTransports are the compare suite's transports.
var compareTransports = []string{"mem", "amqp", "kafka", "redis", "nats"}

// brokerURLs are where the brokers are; an empty kafka starts an
// in-process kfake cluster.
type brokerURLs struct {
	amqp, redis, nats, kafka string
}

// env is one transport's measurement context: its broker address, the
// fixture, the run's unique name prefix and the record of every broker
// object created (for the clean-up check).
type env struct {
	transport    string
	cfg          phaseConfig
	fx           *fixture
	runID        string // prefix of every broker object name of this run
	seq          atomic.Int64
	amqpURL      string
	redisURL     string
	natsURL      string
	kafkaBrokers []string
	cluster      *kafkatest.Cluster

	mu        sync.Mutex
	queues    []string // RabbitMQ
	exchanges []string // RabbitMQ
}

func newEnv(name string, cfg phaseConfig, urls brokerURLs, keys int) (*env, error) {
	fx, err := newFixture(keys)
	if err != nil {
		return nil, err
	}
	e := &env{transport: name, cfg: cfg, fx: fx, runID: brokerns.Unique(),
		amqpURL: urls.amqp, redisURL: urls.redis, natsURL: urls.nats}
	switch name {
	case "mem", "amqp", "redis", "nats":
	case "kafka":
		if urls.kafka != "" {
			e.kafkaBrokers = strings.Split(strings.TrimPrefix(urls.kafka, "kafka://"), ",")
			break
		}
		cluster, err := kafkatest.Start(kafkatest.WithPartitions(16))
		if err != nil {
			return nil, err
		}
		e.cluster = cluster
		e.kafkaBrokers = cluster.Brokers()
	default:
		return nil, fmt.Errorf("unknown transport %q (want mem, amqp, kafka, redis or nats)", name)
	}
	return e, nil
}

func (e *env) close() {
	if e.cluster != nil {
		e.cluster.Close()
	}
}

// name returns a new unique name for one row's broker objects.
func (e *env) name() string { return fmt.Sprintf("%sr%03d", e.runID, e.seq.Add(1)) }

func (e *env) recordAMQP(queues, exchanges []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queues = append(e.queues, queues...)
	e.exchanges = append(e.exchanges, exchanges...)
}

// removeNamespace deletes what a typed row created under ns: brokerns.Remove
// (queues, exchange, streams, topics) plus the Kafka consumer groups.
func (e *env) removeNamespace(ctx context.Context, base, ns string, subs []brokerns.Subscription) error {
	if e.transport == "amqp" {
		var qs []string
		for _, s := range subs {
			qs = append(qs, ns+"."+s.Group+"."+s.Pattern)
		}
		e.recordAMQP(qs, []string{ns})
	}
	err := brokerns.Remove(ctx, base, ns, subs)
	if e.transport == "kafka" {
		err = errors.Join(err, e.deleteKafka(ctx, ns))
	}
	return err
}

// deleteKafka deletes the topics and consumer groups whose name contains
// token.
func (e *env) deleteKafka(ctx context.Context, token string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafkaBrokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, groups, err := kafkaNames(ctx, adm, token)
	if err != nil {
		return err
	}
	var errs []error
	if len(groups) > 0 {
		res, err := adm.DeleteGroups(ctx, groups...)
		errs = append(errs, err)
		for _, r := range res {
			errs = append(errs, r.Err)
		}
	}
	if len(topics) > 0 {
		res, err := adm.DeleteTopics(ctx, topics...)
		errs = append(errs, err)
		for _, r := range res {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

func kafkaNames(ctx context.Context, adm *kadm.Client, token string) (topics, groups []string, err error) {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range td.Names() {
		if strings.Contains(n, token) {
			topics = append(topics, n)
		}
	}
	gl, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range gl.Groups() {
		if strings.Contains(g, token) {
			groups = append(groups, g)
		}
	}
	return topics, groups, nil
}

// leftovers lists the broker objects of this run that still exist: names
// containing runID (Kafka topics and groups, Redis keys, JetStream streams
// and consumers) and the recorded RabbitMQ queues and exchanges.
func (e *env) leftovers(ctx context.Context) ([]string, error) {
	var left []string
	switch e.transport {
	case "amqp":
		conn, err := amqp091.Dial(e.amqpURL)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		e.mu.Lock()
		qs, xs := e.queues, e.exchanges
		e.mu.Unlock()
		// A passive declare of a missing object closes the channel: one
		// channel per check.
		check := func(what, name string, fn func(*amqp091.Channel) error) error {
			ch, err := conn.Channel()
			if err != nil {
				return err
			}
			if err := fn(ch); err == nil {
				left = append(left, what+" "+name)
				_ = ch.Close()
			} else if ae := (*amqp091.Error)(nil); !errors.As(err, &ae) || ae.Code != amqp091.NotFound {
				return err
			}
			return nil
		}
		for _, q := range qs {
			if err := check("queue", q, func(ch *amqp091.Channel) error {
				_, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
				return err
			}); err != nil {
				return nil, err
			}
		}
		for _, x := range xs {
			if err := check("exchange", x, func(ch *amqp091.Channel) error {
				return ch.ExchangeDeclarePassive(x, "topic", true, false, false, false, nil)
			}); err != nil {
				return nil, err
			}
		}
	case "kafka":
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafkaBrokers...))
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		topics, groups, err := kafkaNames(ctx, kadm.NewClient(cl), e.runID)
		if err != nil {
			return nil, err
		}
		for _, t := range topics {
			left = append(left, "topic "+t)
		}
		for _, g := range groups {
			left = append(left, "group "+g)
		}
	case "redis":
		opt, err := redis.ParseURL(e.redisURL)
		if err != nil {
			return nil, err
		}
		c := redis.NewClient(opt)
		defer c.Close()
		iter := c.Scan(ctx, 0, "*"+e.runID+"*", 1000).Iterator()
		for iter.Next(ctx) {
			left = append(left, "key "+iter.Val())
		}
		if err := iter.Err(); err != nil {
			return nil, err
		}
	case "nats":
		nc, err := natsgo.Connect(e.natsURL)
		if err != nil {
			return nil, err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		names := js.StreamNames(ctx)
		for n := range names.Name() {
			if strings.Contains(n, e.runID) {
				left = append(left, "stream "+n)
			}
		}
		if err := names.Err(); err != nil {
			return nil, err
		}
	}
	return left, nil
}

// rowResult is every rep of one row.
type rowResult struct {
	spec    rowSpec
	samples []sample
}

// compareTransport measures every row of one transport, reps interleaved
// (raw, adapter, typed…, raw, adapter, typed…).
func compareTransport(ctx context.Context, e *env, runs int) ([]rowResult, error) {
	specs := selectedRows(e)
	res := make([]rowResult, len(specs))
	for i, s := range specs {
		res[i].spec = s
	}
	for range runs {
		for i, s := range specs {
			smp, err := measureRow(ctx, e, s, e.cfg)
			if err != nil {
				return res, fmt.Errorf("%s: %s: %w", e.transport, s.name, err)
			}
			res[i].samples = append(res[i].samples, smp)
		}
	}
	return res, nil
}

// selectedRows are the rows of e's transport that e.cfg.Only selects.
func selectedRows(e *env) []rowSpec {
	var specs []rowSpec
	for _, s := range transportRows(e.transport) {
		// The raw rows stay: every ratio is against them.
		if e.cfg.Only == "" || s.kind == kindRaw || strings.Contains(s.name, e.cfg.Only) {
			specs = append(specs, s)
		}
	}
	return specs
}

// transportRows are the rows measured on a transport.
func transportRows(name string) []rowSpec {
	var rows []rowSpec
	switch name {
	case "mem":
		rows = append(rows, rowSpec{"Watermill GoChannel + router (default config)", kindRaw, openGoChannel})
	case "amqp":
		rows = append(rows,
			rowSpec{"amqp091-go, confirms, 256 in flight; prefetch 512, multi-ack", kindRaw, openRawAMQP},
			rowSpec{"watermill-amqp v3 (confirms, prefetch 1024)", kindAdapter, openAdapterAMQP})
	case "kafka":
		rows = append(rows,
			rowSpec{"franz-go kgo async Produce; group consumer, commit marks", kindRaw, openRawKafka(0)},
			rowSpec{fmt.Sprintf("franz-go kgo, as above; consumer FetchMaxBytes %d KiB", rawKafkaFetchMax>>10), kindRaw,
				openRawKafka(rawKafkaFetchMax)},
			rowSpec{"watermill-kafka v3 (sarama, sync producer)", kindAdapter, openAdapterKafka})
	case "redis":
		rows = append(rows,
			rowSpec{"go-redis pipelined XADD x256; XREADGROUP 256 + XACK batch", kindRaw, openRawRedis},
			rowSpec{"watermill-redisstream", kindAdapter, openAdapterRedis})
	case "nats":
		rows = append(rows,
			rowSpec{"nats.go jetstream PublishAsync 256 in flight; Consume + Ack", kindRaw, openRawNATS},
			rowSpec{"watermill-nats v2 (JetStream)", kindAdapter, openAdapterNATS})
	}
	return append(rows, typedRows()...)
}

// reportCompare prints one transport's table: medians over the reps, and the
// typed rows' ratios against the raw and adapter rows.
func reportCompare(w io.Writer, e *env, res []rowResult) {
	fmt.Fprintf(w, "\n%s: Trade payload %d B; publish up to %d msgs/rep (max %v), consume that backlog, latency %d msgs at %d/s (first 10%% not counted), %d reps (medians)\n",
		e.transport, len(e.fx.payloads[0]), e.cfg.N, e.cfg.MaxPublish, e.cfg.LatN, e.cfg.LatRate, len(res[0].samples))
	fmt.Fprintf(w, "%-62s %6s %8s %8s %8s %9s %6s %8s %8s %8s %7s %7s %7s %7s\n",
		"row", "msgs", "pub/s", "cons/s", "1st msg", "cons1st/s", "lat/s", "behind", "p50", "p99", "alloc/p", "alloc/c", "cpu/p", "cpu/c")
	var raws []*rowResult
	var adapter *rowResult
	for i := range res {
		r := &res[i]
		switch r.spec.kind {
		case kindRaw:
			raws = append(raws, r)
		case kindAdapter:
			adapter = r
		}
		m := medians(r.samples)
		fmt.Fprintf(w, "%-62s %6d %8.0f %8.0f %8v %9.0f %6.0f %8v %8v %8v %7.1f %7.1f %7.2f %7.2f\n", r.spec.name, m.published, m.pubRate, m.consRate,
			m.firstLag.Round(time.Millisecond), m.steadyRate, m.latRate, m.behind99.Round(10*time.Microsecond),
			m.p50.Round(10*time.Microsecond), m.p99.Round(10*time.Microsecond),
			m.pubAllocs, m.consAllocs, us(m.pubCPU), us(m.consCPU))
	}
	if e.cfg.BrokerPID != 0 {
		fmt.Fprintf(w, "  broker process %d, CPU time (µs) per message, publish and consume phases:\n", e.cfg.BrokerPID)
		for i := range res {
			m := medians(res[i].samples)
			fmt.Fprintf(w, "  %-62s %7.2f %7.2f\n", res[i].spec.name, us(m.brkPubCPU), us(m.brkConsCPU))
		}
	}
	raw := bestRaw(raws)
	if len(raws) > 1 {
		fmt.Fprintf(w, "  raw: the best of the %d raw rows in each column (rate, p99, CPU)\n", len(raws))
	}
	for i := range res {
		r := &res[i]
		if r.spec.kind != kindTyped {
			continue
		}
		m := medians(r.samples)
		for _, b := range []*rowResult{raw, adapter} {
			if b == nil {
				continue
			}
			bm := medians(b.samples)
			if b == raw {
				bm = raw.samples[0]
			}
			fmt.Fprintf(w, "  %s / %s: publish %s, consume %s (from 1st msg %s), p99 %s; CPU/msg %s publish, %s consume (<1 = typed cheaper)\n", shortName(r.spec), b.spec.kind,
				ratio(m.pubRate, bm.pubRate), ratio(m.consRate, bm.consRate), ratio(m.steadyRate, bm.steadyRate),
				ratio(float64(m.p99), float64(bm.p99)), ratio(float64(m.pubCPU), float64(bm.pubCPU)), ratio(float64(m.consCPU), float64(bm.consCPU)))
		}
	}
	for _, c := range defaultCosts(res) {
		fmt.Fprintf(w, "  middleware.Default on %s: %+.0f%% consume CPU per event (median of %d per-rep ratios, range %+.0f%% to %+.0f%%)\n",
			c.row, 100*median(c.extra), len(c.extra), 100*slices.Min(c.extra), 100*slices.Max(c.extra))
	}
}

// defaultSuffix names a typed row behind middleware.Default; the row of
// the same name without it (and without its note in parentheses) is the
// same path bare.
const defaultSuffix = " + middleware.Default"

// defaultCosts returns, for each typed row behind middleware.Default whose
// bare row was measured too, the extra consume CPU per event the stack
// costs: one ratio per rep (the two rows run one after the other in each
// rep), so that the machine's drift between reps cancels out — a ratio of
// the rows' medians mixes reps.
func defaultCosts(res []rowResult) []defaultCost {
	var out []defaultCost
	for i := range res {
		name, ok := strings.CutSuffix(res[i].spec.name, defaultSuffix)
		if !ok {
			continue
		}
		for j := range res {
			if j == i || shortName(res[j].spec) != name {
				continue
			}
			c := defaultCost{row: name}
			for k := range min(len(res[i].samples), len(res[j].samples)) {
				if bare := res[j].samples[k].consCPU; bare > 0 {
					c.extra = append(c.extra, float64(res[i].samples[k].consCPU)/float64(bare)-1)
				}
			}
			if len(c.extra) > 0 {
				out = append(out, c)
			}
		}
	}
	return out
}

// defaultCost is middleware.Default's extra consume CPU per event on a
// row, one fraction per rep.
type defaultCost struct {
	row   string
	extra []float64
}

// bestRaw returns the raw rows as one: its one sample holds, per column,
// the best median of the rows (highest rate, lowest p99 and CPU), so that
// every ratio is taken against the raw client at its best. nil if none.
func bestRaw(raws []*rowResult) *rowResult {
	if len(raws) == 0 {
		return nil
	}
	best := medians(raws[0].samples)
	for _, r := range raws[1:] {
		m := medians(r.samples)
		best.pubRate = max(best.pubRate, m.pubRate)
		best.consRate = max(best.consRate, m.consRate)
		best.steadyRate = max(best.steadyRate, m.steadyRate)
		best.p99 = min(best.p99, m.p99)
		best.pubCPU = min(best.pubCPU, m.pubCPU)
		best.consCPU = min(best.consCPU, m.consCPU)
	}
	return &rowResult{spec: raws[0].spec, samples: []sample{best}}
}

func shortName(s rowSpec) string {
	if i := strings.Index(s.name, " ("); i > 0 {
		return s.name[:i]
	}
	return s.name
}

// medians of each field over the reps.
func medians(ss []sample) sample {
	pick := func(f func(sample) float64) float64 {
		xs := make([]float64, len(ss))
		for i, s := range ss {
			xs[i] = f(s)
		}
		return median(xs)
	}
	return sample{
		published:  int(pick(func(s sample) float64 { return float64(s.published) })),
		firstLag:   time.Duration(pick(func(s sample) float64 { return float64(s.firstLag) })),
		latRate:    pick(func(s sample) float64 { return s.latRate }),
		pubRate:    pick(func(s sample) float64 { return s.pubRate }),
		consRate:   pick(func(s sample) float64 { return s.consRate }),
		steadyRate: pick(func(s sample) float64 { return s.steadyRate }),
		pubAllocs:  pick(func(s sample) float64 { return s.pubAllocs }),
		consAllocs: pick(func(s sample) float64 { return s.consAllocs }),
		pubCPU:     time.Duration(pick(func(s sample) float64 { return float64(s.pubCPU) })),
		consCPU:    time.Duration(pick(func(s sample) float64 { return float64(s.consCPU) })),
		brkPubCPU:  time.Duration(pick(func(s sample) float64 { return float64(s.brkPubCPU) })),
		brkConsCPU: time.Duration(pick(func(s sample) float64 { return float64(s.brkConsCPU) })),
		p50:        time.Duration(pick(func(s sample) float64 { return float64(s.p50) })),
		p99:        time.Duration(pick(func(s sample) float64 { return float64(s.p99) })),
		behind99:   time.Duration(pick(func(s sample) float64 { return float64(s.behind99) })),
	}
}

// compare runs the compare suite on each transport in turn.
func compare(ctx context.Context, w io.Writer, names []string, runs, keys int, cfg phaseConfig, urls brokerURLs) error {
	fmt.Fprintf(w, "compare: one publishing goroutine, %d symbols, batches of %d; ratios typed/raw and typed/adapter (>1 = typed faster; for p99 >1 = typed slower)\n",
		keys, batchSize)
	fmt.Fprintln(w, "msgs: published (and consumed) per rep; cons/s: from starting the consumer (connect, group join: 1st msg) to the last message;")
	fmt.Fprintln(w, "cons1st/s: from the first message to the last (no set-up, but flatters a client that prefetched the backlog while joining);")
	fmt.Fprintln(w, "lat/s: publish rate achieved in the latency phase; behind: p99 of how late after its due time an event was handed to the publisher there")
	fmt.Fprintln(w, "(a publisher that waits for the broker sends nothing during a stall, so the events due meanwhile are stamped late and their p99 misses the stall);")
	fmt.Fprintln(w, "alloc/p, alloc/c: runtime Mallocs per message in the publish/consume phase, whole process (kafka: includes the in-process kfake broker);")
	fmt.Fprintln(w, "cpu/p, cpu/c: this process's CPU time (µs) per message in those phases, steadier than rates on a loaded machine (brokers outside it not counted; kafka: kfake is inside)")
	for _, name := range names {
		e, err := newEnv(name, cfg, urls, keys)
		if err != nil {
			return err
		}
		err = compareOne(ctx, w, e, runs)
		e.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// compareOne measures one transport: the rows (unless cfg.Latency is
// paired) and the paired latency phase (unless it is rows, or LatN is 0).
func compareOne(ctx context.Context, w io.Writer, e *env, runs int) error {
	if e.cfg.Latency != latencyPaired {
		res, err := compareTransport(ctx, e, runs)
		if err != nil {
			return err
		}
		reportCompare(w, e, res)
	}
	if e.cfg.Latency != latencyRows && e.cfg.LatN > 0 {
		pr, err := comparePaired(ctx, e, runs)
		if err != nil {
			return err
		}
		reportPaired(w, e, pr)
	}
	return nil
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
