package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
)

// The compare suite (issue 9): per transport, rows of the raw client at its
// best, the Watermill adapter and the tradebus typed path, measured in one
// run with interleaved reps.

// Row kinds: ratios are typed/raw and typed/adapter.
const (
	kindRaw     = "raw"
	kindAdapter = "adapter"
	kindTyped   = "typed"
)

const (
	publishChunk = 16 * batchSize // publish phase: messages per publishN call
	batchSize    = 256            // events per publish batch / messages in flight
	seqHeader    = "tbseq"        // latency phase: the message's sequence number (raw and adapter rows)
)

// row is one measured configuration on one broker, set up with broker
// objects of its own (unique names) and removed by close.
type row interface {
	// publishN sends n messages from the calling goroutine as fast as the
	// client allows and returns when the broker confirmed all of them.
	publishN(ctx context.Context, n int) error
	// publishSeq sends one message carrying seq (latency phase). It may
	// return before the broker confirmed it; flush waits for that.
	publishSeq(ctx context.Context, seq int) error
	flush(ctx context.Context) error
	// start starts consuming: h.hit for every message, h.fail on an error.
	start(ctx context.Context, h *hook) error
	// close stops the consumer, closes the clients and deletes every broker
	// object the row created. It is called once, also after errors.
	close(ctx context.Context) error
}

// rowSpec names a row and opens it; ns is a unique name for its broker
// objects.
type rowSpec struct {
	name string
	kind string
	open func(ctx context.Context, e *env, ns string) (row, error)
}

// hook connects a consumer to the sink of the current phase.
type hook struct {
	cur    atomic.Pointer[sink]
	errMu  sync.Mutex
	err    error
	failed chan struct{}
}

func newHook() *hook { return &hook{failed: make(chan struct{})} }

// hit records one consumed message; seq is -1 when it carries none.
func (h *hook) hit(seq int) {
	if s := h.cur.Load(); s != nil {
		s.hit(seq)
	}
}

// wantSeq reports whether the current phase needs sequence numbers (so
// throughput phases skip parsing them).
func (h *hook) wantSeq() bool {
	s := h.cur.Load()
	return s != nil && s.sent != nil
}

func (h *hook) fail(err error) {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	if h.err == nil {
		h.err = err
		close(h.failed)
	}
}

func (h *hook) error() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	return h.err
}

// sink counts the messages of one phase and closes done when all arrived.
type sink struct {
	want  int64
	count atomic.Int64
	first atomic.Int64 // UnixNano of the first message
	last  atomic.Int64 // UnixNano of the want-th message
	done  chan struct{}

	// latency phase only
	sent []time.Time // publish time by seq, written before the message is sent
	warm int         // seqs below warm are counted but their latency is not (warm-up)
	mu   sync.Mutex
	seen []bool
	uniq int
	dups int
	lats []time.Duration
}

func newSink(want int) *sink {
	return &sink{want: int64(want), done: make(chan struct{})}
}

func newLatencySink(want int) *sink {
	s := newSink(want)
	s.sent = make([]time.Time, want)
	s.seen = make([]bool, want)
	// The first tenth warms up: the broker may still be settling the acks
	// of the consume phase.
	s.warm = want / 10
	s.lats = make([]time.Duration, 0, want)
	return s
}

func (s *sink) hit(seq int) {
	now := time.Now()
	n := s.count.Add(1)
	if s.sent == nil {
		if n == 1 {
			s.first.Store(now.UnixNano())
		}
		if n == s.want {
			s.last.Store(now.UnixNano())
			close(s.done)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < 0 || seq >= len(s.seen) {
		return
	}
	if s.seen[seq] {
		s.dups++
		return
	}
	s.seen[seq] = true
	if seq >= s.warm {
		s.lats = append(s.lats, now.Sub(s.sent[seq]))
	}
	s.uniq++
	if s.uniq == len(s.seen) {
		close(s.done)
	}
}

// sample is one rep of one row.
type sample struct {
	published             int           // messages of the publish phase (N, or fewer at MaxPublish)
	pubRate, consRate     float64       // msgs/s
	firstLag              time.Duration // consumer start to first message
	steadyRate            float64       // consume rate from the first message to the last
	pubAllocs, consAllocs float64       // runtime.MemStats.Mallocs per message, process-wide
	pubCPU, consCPU       time.Duration // process CPU time per message (a load-proof cost)
	brkPubCPU, brkConsCPU time.Duration // the broker process's CPU time per message (phaseConfig.BrokerPID)
	p50, p99              time.Duration
	latRate               float64 // achieved publish rate of the latency phase (a blocking publish may not keep the pace)
	// behind99: p99 of how long after its due time the latency phase
	// handed an event to the publisher. A publisher that waits for the
	// broker sends nothing while the broker stalls; the events due
	// meanwhile are stamped when the stall ends, so their latency misses it
	// (coordinated omission): a large behind99 flags a p99 that looks
	// better than it is.
	behind99          time.Duration
	consumed, latSeen int // messages counted in the consume and latency phases
}

type phaseConfig struct {
	N, LatN    int
	LatRate    int           // events/s in the latency phase
	Timeout    time.Duration // per phase wait
	MaxPublish time.Duration // stop the publish phase after the chunk that passes it (0: never)
	Only       string        // measure only the rows whose name contains this, and the raw row ("": all)
	// Latency: "rows" (each row's own latency phase), "paired" (only the
	// paired phase: raw and typed fast paths at once) or "both" ("": both).
	Latency string
	// ConsumeProfile: write a CPU profile of each consume phase to
	// ConsumeProfile.<row kind>.<n> ("": none); go tool pprof merges them.
	ConsumeProfile string
	// PublishProfile: the same for each publish phase ("": none).
	PublishProfile string
	// BrokerPID: the broker's process on this machine, whose CPU time per
	// message is reported too (0: none).
	BrokerPID int
}

// profileSeq numbers the consume-phase profiles.
var profileSeq atomic.Int64

// startPhaseProfile starts a CPU profile of one phase written to
// prefix.<kind>.<n> if prefix is not empty; the returned function stops it.
func startPhaseProfile(prefix, kind string) (stop func(), err error) {
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%s.%d", prefix, kind, profileSeq.Add(1)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// cpuNow is processCPU, 0 where it cannot be read.
func cpuNow() time.Duration {
	d, _ := processCPU()
	return d
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// wait waits for s to complete, the consumer to fail, ctx or the deadline.
func wait(ctx context.Context, h *hook, s *sink, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-h.failed:
		return fmt.Errorf("%s: consumer: %w", what, h.error())
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%s: timed out after %v with %d of %d messages", what, timeout, s.count.Load(), s.want)
	}
}

// measureRow runs one rep of spec: publish N (timed), consume the backlog
// of N (timed from the first to the last message), then publish LatN at
// LatRate/s one at a time and record the publish→handler latency.
func measureRow(ctx context.Context, e *env, spec rowSpec, cfg phaseConfig) (res sample, err error) {
	r, err := spec.open(ctx, e, e.name())
	if err != nil {
		return res, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := r.close(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
	}()

	// Publish in chunks (whole batches) so that a slow row can stop at
	// MaxPublish; the backlog is then what it published. Each phase starts
	// after a collection: it pays for its own garbage, not the last one's.
	runtime.GC()
	stopProfile, err := startPhaseProfile(cfg.PublishProfile, spec.kind)
	if err != nil {
		return res, err
	}
	m0, c0, b0 := mallocs(), cpuNow(), brokerCPU(cfg.BrokerPID)
	t0 := time.Now()
	n := 0
	for n < cfg.N {
		k := min(publishChunk, cfg.N-n)
		if err := r.publishN(ctx, k); err != nil {
			stopProfile()
			return res, fmt.Errorf("publish: %w", err)
		}
		n += k
		if cfg.MaxPublish > 0 && time.Since(t0) >= cfg.MaxPublish {
			break
		}
	}
	stopProfile()
	res.published = n
	res.pubRate = rate(n, time.Since(t0))
	res.pubAllocs = float64(mallocs()-m0) / float64(n)
	res.pubCPU = (cpuNow() - c0) / time.Duration(n)
	res.brkPubCPU = (brokerCPU(cfg.BrokerPID) - b0) / time.Duration(n)

	h := newHook()
	s := newSink(n)
	h.cur.Store(s)
	runtime.GC()
	stopProfile, err = startPhaseProfile(cfg.ConsumeProfile, spec.kind)
	if err != nil {
		return res, err
	}
	m0, c0, b0 = mallocs(), cpuNow(), brokerCPU(cfg.BrokerPID)
	t1 := time.Now()
	if err := r.start(ctx, h); err != nil {
		stopProfile()
		return res, fmt.Errorf("consume: %w", err)
	}
	err = wait(ctx, h, s, cfg.Timeout, "consume")
	stopProfile()
	if err != nil {
		return res, err
	}
	res.consAllocs = float64(mallocs()-m0) / float64(n)
	res.consCPU = (cpuNow() - c0) / time.Duration(n)
	res.brkConsCPU = (brokerCPU(cfg.BrokerPID) - b0) / time.Duration(n)
	// From starting the consumer (connect, subscribe, group join included)
	// to the last message; firstLag shows how much of it was set-up.
	res.consRate = rate(n, time.Unix(0, s.last.Load()).Sub(t1))
	res.firstLag = time.Unix(0, s.first.Load()).Sub(t1)
	// From the first message to the last: excludes set-up, but flatters a
	// client that prefetched much of the backlog before handing out the
	// first message (kgo fetches while the group is joining).
	if d := time.Duration(s.last.Load() - s.first.Load()); n > 1 && d > 0 {
		res.steadyRate = float64(n-1) / d.Seconds()
	}

	if cfg.LatN > 0 {
		ls := newLatencySink(cfg.LatN)
		h.cur.Store(ls)
		interval := time.Second / time.Duration(max(cfg.LatRate, 1))
		behind := make([]time.Duration, 0, cfg.LatN)
		start := time.Now()
		for i := range cfg.LatN {
			due := start.Add(time.Duration(i) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d) // pacing, not synchronisation
			}
			now := time.Now()
			if i >= ls.warm {
				behind = append(behind, now.Sub(due))
			}
			ls.mu.Lock()
			ls.sent[i] = now
			ls.mu.Unlock()
			if err := r.publishSeq(ctx, i); err != nil {
				return res, fmt.Errorf("latency publish: %w", err)
			}
		}
		res.latRate = rate(cfg.LatN, time.Since(start))
		if err := r.flush(ctx); err != nil {
			return res, fmt.Errorf("latency flush: %w", err)
		}
		if err := wait(ctx, h, ls, cfg.Timeout, "latency"); err != nil {
			return res, err
		}
		ls.mu.Lock()
		lats := slices.Clone(ls.lats)
		res.latSeen = ls.uniq
		ls.mu.Unlock()
		slices.Sort(lats)
		res.p50 = lats[len(lats)/2]
		res.p99 = lats[min(len(lats)-1, len(lats)*99/100)]
		slices.Sort(behind)
		res.behind99 = behind[min(len(behind)-1, len(behind)*99/100)]
	}
	// Counted again after the latency phase: duplicates of the backlog that
	// arrived during the consume phase show here.
	res.consumed = int(s.count.Load())
	return res, h.error()
}

// fixture is the event every row sends: one Trade per symbol, its encoded
// payload (events.Marshal, once) and the envelope metadata the typed
// publisher would attach, used as headers by the raw and adapter rows.
type fixture struct {
	trades   []events.Trade
	keys     []string // routing keys
	symbols  []string // partition keys
	payloads [][]byte
	metadata []message.Metadata
}

func newFixture(keys int) (*fixture, error) {
	trades := sampleTrades(keys)
	pub, err := publisher.New(discard{})
	if err != nil {
		return nil, err
	}
	f := &fixture{trades: trades}
	for i := range trades {
		trades[i].Exchange = "bench"
		payload, err := events.Marshal(trades[i])
		if err != nil {
			return nil, err
		}
		msg, err := pub.NewMessage(context.Background(), trades[i])
		if err != nil {
			return nil, err
		}
		f.keys = append(f.keys, trades[i].RoutingKey())
		f.symbols = append(f.symbols, trades[i].PartitionKey())
		f.payloads = append(f.payloads, payload)
		f.metadata = append(f.metadata, msg.Metadata)
	}
	return f, nil
}

// pattern is the subscription pattern matching every fixture key.
const pattern = "trade.bench.*"

// seqTrade is the trade of message seq in the latency phase: TradeID
// carries the sequence number (9 digits, like the fixture's id).
func (f *fixture) seqTrade(seq int) events.Trade {
	t := f.trades[seq%len(f.trades)]
	t.TradeID = fmt.Sprintf("%09d", seq)
	return t
}

func seqString(seq int) string { return fmt.Sprintf("%09d", seq) }

// parseSeq returns the sequence number in s, or -1.
func parseSeq(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// discard is a message.Publisher that drops everything (for building the
// fixture's metadata with publisher.NewMessage).
type discard struct{}

func (discard) Publish(string, ...*message.Message) error { return nil }
func (discard) Close() error                              { return nil }

// preSubscribed hands a router a channel subscribed earlier, so a backlog
// can be published to a non-persistent pub/sub before the router starts.
// Close ends that subscription (the router waits for the channel to close).
type preSubscribed struct {
	ch     <-chan *message.Message
	cancel context.CancelFunc
}

func (p preSubscribed) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return p.ch, nil
}
func (p preSubscribed) Close() error { p.cancel(); return nil }

// startRouter runs a router with the handlers add registers until the
// returned stop is called.
func startRouter(ctx context.Context, h *hook, add func(r *message.Router) error) (stop func() error, err error) {
	r, err := newRouter()
	if err != nil {
		return nil, err
	}
	if err := add(r); err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() {
		err := r.Run(context.WithoutCancel(ctx))
		if err != nil {
			h.fail(err)
		}
		errc <- err
	}()
	select {
	case <-r.Running():
	case err := <-errc:
		if err == nil {
			err = errors.New("router stopped before running")
		}
		return nil, err
	}
	var once sync.Once
	var cerr error
	return func() error {
		once.Do(func() {
			cerr = errors.Join(r.Close(), <-errc)
		})
		return cerr
	}, nil
}

// closer collects cleanup steps, run in reverse order, all of them even
// when some fail.
type closer struct{ fns []func(context.Context) error }

func (c *closer) add(fn func(context.Context) error) { c.fns = append(c.fns, fn) }

func (c *closer) close(ctx context.Context) error {
	var errs []error
	for i := len(c.fns) - 1; i >= 0; i-- {
		if err := c.fns[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.fns = nil
	return errors.Join(errs...)
}

// adapterRow is the row of a Watermill adapter (Kafka, NATS, Redis): the
// adapter's own publisher and subscriber on one topic, the same code for
// every broker.
type adapterRow struct {
	e     *env
	topic string
	pub   message.Publisher
	sub   message.Subscriber
	cl    closer
}

func (r *adapterRow) msg(i int) *message.Message {
	k := i % len(r.e.fx.payloads)
	m := message.NewMessage(watermill.NewUUID(), r.e.fx.payloads[k])
	m.Metadata = copyMD(r.e.fx.metadata[k])
	return m
}

func (r *adapterRow) publishN(_ context.Context, n int) error {
	for i := range n {
		if err := r.pub.Publish(r.topic, r.msg(i)); err != nil {
			return err
		}
	}
	return nil
}

func (r *adapterRow) publishSeq(_ context.Context, seq int) error {
	m := r.msg(seq)
	m.Metadata.Set(seqHeader, seqString(seq))
	return r.pub.Publish(r.topic, m)
}

func (r *adapterRow) flush(context.Context) error { return nil }

func (r *adapterRow) start(ctx context.Context, h *hook) error {
	stop, err := startRouter(ctx, h, func(rt *message.Router) error {
		rt.AddConsumerHandler("bench", r.topic, r.sub, adapterHandler(h))
		return nil
	})
	if err != nil {
		return err
	}
	r.cl.add(func(context.Context) error { return stop() })
	return nil
}

func (r *adapterRow) close(ctx context.Context) error { return r.cl.close(ctx) }
