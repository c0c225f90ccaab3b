package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
)

// The rebuild suite (issue 13): per transport that keeps history, N
// Trades are published once under a namespace of the run's own; every rep
// then reads that stored history again, rows interleaved:
//
//   - raw: the broker's client reading the history at its best, with no
//     tradebus code, counting the messages and summing their payload
//     lengths (no decode);
//   - raw+decode: the same plus events.Unmarshal[events.Trade] of every
//     payload (what decoding costs);
//   - read: transport.Read from the beginning with a no-op fn;
//   - rebuild: a projection (tally per symbol: count and notional, with
//     events.Decimal; MemStore, default SnapshotEvery) run until it has
//     caught up having applied all N, its state checked against the
//     published trades.

// Rebuild row kinds.
const (
	kindRawRead    = "raw"
	kindRawDecode  = "raw+decode"
	kindRead       = "read"
	kindRebuild    = "rebuild"
	rebuildStateID = "bench-tally"
)

// rebuildTransports are the transports the suite knows; mem joins when it
// keeps history (mem://?history=N).
var rebuildTransports = []string{"mem", "kafka", "redis", "nats"}

// history is one transport's stored history of n trades: the transport
// opened on the run's namespace, what a raw client needs to read the same
// messages, and how to remove them.
type history struct {
	e      *env
	n      int
	tr     transport.Transport
	stream string    // Position.Stream of the stored trades (topic, stream key, JetStream stream)
	raw    rawReader // nil where there is no broker client to compare with (mem)
	cl     closer
}

// rawReader reads a stored history with the broker's own client.
type rawReader interface {
	// describe says how it reads.
	describe() string
	// read reads the whole history as it is when read starts and calls
	// each with every message's payload, which each must not retain.
	read(ctx context.Context, each func(payload []byte)) (int, error)
}

// memHistoryURL is the mem URL keeping a history of n messages.
func memHistoryURL(n int) string { return fmt.Sprintf("mem://?history=%d", n) }

// openHistory opens e's transport on a new namespace, publishes n trades
// there (publisher.Publish, batches of batchSize, the fixture's symbols in
// turn) and opens the raw reader of that history. skip is non-empty when
// the transport cannot take part (mem without history).
func openHistory(ctx context.Context, e *env, n int) (_ *history, skip string, err error) {
	h := &history{e: e, n: n}
	defer func() {
		if err != nil {
			err = errors.Join(err, h.close(context.WithoutCancel(ctx)))
		}
	}()
	ns := e.name()
	u := memHistoryURL(n)
	if e.transport != "mem" {
		base := e.typedURL()
		if u, err = brokerns.Apply(base, ns); err != nil {
			return nil, "", err
		}
		// Registered first, so it runs last.
		h.cl.add(func(ctx context.Context) error { return e.removeNamespace(ctx, base, ns, nil) })
	}
	tr, err := transport.Open(ctx, u)
	if err != nil {
		if e.transport == "mem" {
			return nil, fmt.Sprintf("transport.Open(%q): %v", u, err), nil
		}
		return nil, "", err
	}
	h.cl.add(tr.Close)
	h.tr = tr
	if !transport.Replayable(tr) {
		return nil, fmt.Sprintf("%s keeps no history (transport.Replayable)", u), h.close(ctx)
	}
	pub, err := publisher.New(tr.Publisher())
	if err != nil {
		return nil, "", err
	}
	batch := make([]events.Event, 0, batchSize)
	for sent := 0; sent < n; sent += len(batch) {
		batch = batch[:0]
		for i := sent; i < min(sent+batchSize, n); i++ {
			batch = append(batch, e.fx.trades[i%len(e.fx.trades)])
		}
		if err := pub.Publish(ctx, batch...); err != nil {
			return nil, "", fmt.Errorf("publish: %w", err)
		}
	}
	// Where the trades are stored, as the transport names it.
	err = transport.Read(ctx, tr, pattern, transport.FromBeginning(), func(m *message.Message) bool {
		p, _ := transport.PositionFromContext(m.Context())
		h.stream = p.Stream
		return false
	})
	if err != nil {
		return nil, "", err
	}
	if h.stream == "" && e.transport != "mem" {
		return nil, "", errors.New("read after publishing found nothing")
	}
	switch e.transport {
	case "kafka":
		h.raw, err = openRawKafkaReader(e, h.stream, &h.cl)
	case "redis":
		h.raw, err = openRawRedisReader(e, h.stream, &h.cl)
	case "nats":
		h.raw, err = openRawNATSReader(e, h.stream, &h.cl)
	}
	if err != nil {
		return nil, "", err
	}
	return h, "", nil
}

func (h *history) close(ctx context.Context) error { return h.cl.close(ctx) }

// rebuildRow is one way of reading a history.
type rebuildRow struct {
	name string
	kind string
	// run reads h once and returns how many events it read; it calls
	// m.stop when the measured part is over (else it ends with run).
	run func(ctx context.Context, h *history, m *meter) (int, error)
}

// meter records the elapsed time, process CPU and allocations of one
// measured part.
type meter struct {
	t0      time.Time
	c0      time.Duration
	m0      uint64
	stopped bool
	d, cpu  time.Duration
	allocs  uint64
}

func startMeter() *meter {
	m := &meter{m0: mallocs(), c0: cpuNow()}
	m.t0 = time.Now()
	return m
}

func (m *meter) stop() {
	if m.stopped {
		return
	}
	m.d = time.Since(m.t0)
	m.cpu = cpuNow() - m.c0
	m.allocs = mallocs() - m.m0
	m.stopped = true
}

// rebuildRows are the rows measured on h.
func rebuildRows(h *history) []rebuildRow {
	var rows []rebuildRow
	if h.raw != nil {
		rows = append(rows,
			rebuildRow{"raw: " + h.raw.describe(), kindRawRead, readRaw(false)},
			rebuildRow{"raw+decode: the same + events.Unmarshal[Trade]", kindRawDecode, readRaw(true)})
	}
	return append(rows,
		rebuildRow{"tradebus transport.Read, no-op fn", kindRead, readTransport},
		rebuildRow{"tradebus projection rebuild (tally, MemStore, snapshot/1000)", kindRebuild, rebuildProjection})
}

func readRaw(decode bool) func(ctx context.Context, h *history, _ *meter) (int, error) {
	return func(ctx context.Context, h *history, _ *meter) (int, error) {
		var bytes int
		var derr error
		n, err := h.raw.read(ctx, func(p []byte) {
			bytes += len(p)
			if decode && derr == nil {
				tr, err := events.Unmarshal[events.Trade](p)
				if err != nil {
					derr = err
				}
				bytes += len(tr.Symbol)
			}
		})
		if err == nil {
			err = derr
		}
		if err == nil && bytes == 0 && n > 0 {
			err = errors.New("empty payloads")
		}
		return n, err
	}
}

func readTransport(ctx context.Context, h *history, _ *meter) (int, error) {
	n := 0
	err := transport.Read(ctx, h.tr, pattern, transport.FromBeginning(), func(*message.Message) bool {
		n++
		return true
	})
	return n, err
}

// tally is the rebuild row's state: per symbol, the trades applied and
// their notional (price × amount).
type tally struct {
	Symbols map[string]*symbolTally `json:"symbols"`
}

type symbolTally struct {
	Count    int            `json:"count"`
	Notional events.Decimal `json:"notional"`
}

func newTally() tally { return tally{Symbols: make(map[string]*symbolTally)} }

func applyTally(_ context.Context, s *tally, tr events.Trade) error {
	st := s.Symbols[tr.Symbol]
	if st == nil {
		st = &symbolTally{}
		s.Symbols[tr.Symbol] = st
	}
	v, err := tr.Price.Mul(tr.Amount)
	if err != nil {
		return err
	}
	st.Count++
	st.Notional = st.Notional.Add(v)
	return nil
}

// wantTally is the tally of the n trades h published, computed without
// applyTally: trade i is the fixture's trade i mod its length, so symbol k
// has ceil((n-k)/len) trades, each of the same notional.
func (h *history) wantTally() (tally, error) {
	want := newTally()
	trades := h.e.fx.trades
	for k, tr := range trades {
		count := (h.n - k + len(trades) - 1) / len(trades)
		if count <= 0 {
			continue
		}
		v, err := tr.Price.Mul(tr.Amount)
		if err == nil {
			v, err = v.Mul(events.NewDecimalFromInt(int64(count)))
		}
		if err != nil {
			return want, err
		}
		want.Symbols[tr.Symbol] = &symbolTally{Count: count, Notional: v}
	}
	return want, nil
}

func (s tally) diff(want tally) error {
	if len(s.Symbols) != len(want.Symbols) {
		return fmt.Errorf("%d symbols, want %d", len(s.Symbols), len(want.Symbols))
	}
	for sym, w := range want.Symbols {
		g := s.Symbols[sym]
		if g == nil || g.Count != w.Count || !g.Notional.Equal(w.Notional) {
			return fmt.Errorf("symbol %s: got %+v, want %+v", sym, g, w)
		}
	}
	return nil
}

// rebuildProjection runs a projection of h from scratch until it has
// caught up (measured up to there), checks that it applied all n events
// into the right state, then cancels it and waits for Run.
func rebuildProjection(ctx context.Context, h *history, m *meter) (int, error) {
	p, err := projection.New(h.tr, projection.Config[tally, events.Trade]{
		Name: rebuildStateID, Pattern: pattern, Init: newTally, Apply: applyTally,
		Store: &projection.MemStore{}, StateVersion: 1, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.Run(rctx) }()
	timeout := time.NewTimer(h.e.cfg.Timeout)
	defer timeout.Stop()
	var runErr error
	ran := false
	select {
	case <-p.CaughtUp():
		m.stop()
	case runErr = <-errc:
		ran = true
		select {
		case <-p.CaughtUp():
			// Caught up, then Run returned at once (a transport whose
			// Follow stops at the head).
			m.stop()
		default:
			return int(p.Applied()), fmt.Errorf("Run returned before catching up: %v", runErr)
		}
	case <-timeout.C:
		return int(p.Applied()), fmt.Errorf("not caught up after %v (%d of %d applied)", h.e.cfg.Timeout, p.Applied(), h.n)
	case <-ctx.Done():
		return int(p.Applied()), ctx.Err()
	}
	n := int(p.Applied())
	cancel()
	if !ran {
		runErr = <-errc
	}
	if runErr != nil {
		return n, fmt.Errorf("Run: %w", runErr)
	}
	want, err := h.wantTally()
	if err != nil {
		return n, err
	}
	var werr error
	p.View(func(s *tally) { werr = s.diff(want) })
	if werr != nil {
		return n, fmt.Errorf("rebuilt state: %w", werr)
	}
	return n, nil
}

// rebuildSample is one rep of one row.
type rebuildSample struct {
	events int
	rate   float64       // events/s
	allocs float64       // runtime Mallocs per event, whole process
	cpu    time.Duration // process CPU per event
}

type rebuildResult struct {
	row     rebuildRow
	samples []rebuildSample
}

func (r *rebuildResult) median() rebuildSample {
	pick := func(f func(rebuildSample) float64) float64 {
		xs := make([]float64, len(r.samples))
		for i, s := range r.samples {
			xs[i] = f(s)
		}
		return median(xs)
	}
	return rebuildSample{
		events: int(pick(func(s rebuildSample) float64 { return float64(s.events) })),
		rate:   pick(func(s rebuildSample) float64 { return s.rate }),
		allocs: pick(func(s rebuildSample) float64 { return s.allocs }),
		cpu:    time.Duration(pick(func(s rebuildSample) float64 { return float64(s.cpu) })),
	}
}

// measureRebuild runs runs reps of every row of h, interleaved.
func measureRebuild(ctx context.Context, h *history, runs int) ([]rebuildResult, error) {
	rows := rebuildRows(h)
	res := make([]rebuildResult, len(rows))
	for i, r := range rows {
		res[i].row = r
	}
	for range runs {
		for i, r := range rows {
			rctx, cancel := context.WithTimeout(ctx, h.e.cfg.Timeout)
			m := startMeter()
			n, err := r.run(rctx, h, m)
			m.stop()
			cancel()
			if err != nil {
				return res, fmt.Errorf("%s: %s: %w", h.e.transport, r.kind, err)
			}
			if n != h.n {
				return res, fmt.Errorf("%s: %s: read %d events, want %d", h.e.transport, r.kind, n, h.n)
			}
			res[i].samples = append(res[i].samples, rebuildSample{
				events: n,
				rate:   rate(n, m.d),
				allocs: float64(m.allocs) / float64(n),
				cpu:    m.cpu / time.Duration(n),
			})
		}
	}
	return res, nil
}

func reportRebuild(w io.Writer, h *history, res []rebuildResult) {
	where := h.stream
	if h.e.transport == "kafka" && h.e.cluster != nil {
		where += " (in-process kfake, 16 partitions: its allocations and CPU are counted)"
	}
	fmt.Fprintf(w, "\n%s: %d Trades (payload %d B) stored in %s, %d reps (medians)\n",
		h.e.transport, h.n, len(h.e.fx.payloads[0]), where, len(res[0].samples))
	fmt.Fprintf(w, "%-76s %7s %9s %8s %9s\n", "row", "events", "events/s", "alloc/ev", "cpu µs/ev")
	by := map[string]rebuildSample{}
	for i := range res {
		m := res[i].median()
		by[res[i].row.kind] = m
		fmt.Fprintf(w, "%-76s %7d %9.0f %8.1f %9.2f\n", res[i].row.name, m.events, m.rate, m.allocs, us(m.cpu))
	}
	rb := by[kindRebuild]
	var parts []string
	for _, k := range []string{kindRawRead, kindRawDecode, kindRead} {
		b, ok := by[k]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("rebuild ÷ %s %s (CPU/event %s)", k, ratio(rb.rate, b.rate), ratio(float64(rb.cpu), float64(b.cpu))))
	}
	if rd, ok := by[kindRead]; ok {
		if raw, ok := by[kindRawRead]; ok {
			parts = append(parts, fmt.Sprintf("read ÷ raw %s (CPU/event %s)", ratio(rd.rate, raw.rate), ratio(float64(rd.cpu), float64(raw.cpu))))
		}
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(parts, "; "))
}

// rebuildSuite runs the rebuild suite on each transport in turn: publish
// once, measure the rows, remove the namespace, check nothing is left.
func rebuildSuite(ctx context.Context, w io.Writer, names []string, runs, n, keys int, urls brokerURLs) error {
	fmt.Fprintf(w, "rebuild: %d Trades (%d symbols) published once per transport (publisher.Publish, batches of %d) under a namespace of the run's own;\n", n, keys, batchSize)
	fmt.Fprintln(w, "rows interleaved per rep, medians printed. raw = the broker's client reading the stored history with no tradebus code, counting messages and")
	fmt.Fprintln(w, "summing payload lengths (no decode); raw+decode adds events.Unmarshal[Trade]; read = transport.Read, no-op fn; rebuild = projection.Run")
	fmt.Fprintln(w, "from an empty MemStore to CaughtUp (Applied = n; state checked after). alloc/ev: runtime Mallocs per event, whole process; cpu: this process's")
	fmt.Fprintln(w, "CPU per event (brokers outside it not counted; kafka: kfake is inside). Ratios > 1: rebuild faster (events/s) or dearer (CPU/event);")
	fmt.Fprintln(w, "on a loaded machine rates swing between reps of the same code, CPU per event far less.")
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := newEnv(name, phaseConfig{N: n, Timeout: 5 * time.Minute}, urls, keys)
		if err != nil {
			return err
		}
		err = rebuildTransport(ctx, w, e, n, runs)
		e.close()
		if err != nil {
			return err
		}
	}
	return nil
}

func rebuildTransport(ctx context.Context, w io.Writer, e *env, n, runs int) (err error) {
	h, skip, err := openHistory(ctx, e, n)
	if err != nil {
		return fmt.Errorf("%s: %w", e.transport, err)
	}
	if skip != "" {
		fmt.Fprintf(w, "\n%s: skipped: %s\n", e.transport, skip)
		return nil
	}
	res, err := measureRebuild(ctx, h, runs)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if cerr := h.close(cctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("%s: close: %w", e.transport, cerr))
	}
	if err != nil {
		return err
	}
	reportRebuild(w, h, res)
	left, err := e.leftovers(cctx)
	if err != nil {
		return fmt.Errorf("%s: leftovers check: %w", e.transport, err)
	}
	if len(left) > 0 {
		return fmt.Errorf("%s: broker objects left behind: %v", e.transport, left)
	}
	return nil
}
