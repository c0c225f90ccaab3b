package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The paired latency phase (issue 9): the raw client and the typed paths
// measured at the same time, in this process, on the same broker (objects
// of their own), paced by one loop that hands event i to every path back
// to back, the first path rotating with i. A stall (a collection, the
// shared broker, another process) then hits every path alike, and the
// ratio typed p99 ÷ raw p99 of one run says something about the code; the
// same ratio between rows measured one after the other mostly says which
// row the stalls hit.

// Latency modes (-latency).
const (
	latencyRows   = "rows"   // each row's own latency phase only
	latencyPaired = "paired" // the paired phase only (no throughput rows)
	latencyBoth   = "both"
)

// pairedConsumers are the typed consumers of the paired phase: the fast
// path, bare and behind middleware.Default.
var pairedConsumers = []string{
	"tradebus typed fast path (subscriber.Group)",
	"tradebus typed fast path + middleware.Default",
}

// pairedProbes is how many messages each path must deliver before the
// paced phase starts (connections open, groups joined, first-use costs
// paid).
const pairedProbes = 16

// pairedSample is one path's latency in one paired run.
type pairedSample struct {
	p50, p99, p999 time.Duration
	behind99       time.Duration // p99 of how late after its due time the event was handed to this path
	call99         time.Duration // p99 of how long this path's publish call took (a blocking path makes every path's sends late)
	seen           int           // distinct events received
}

// pairedResult is every run of the paired phase on one transport.
type pairedResult struct {
	specs []rowSpec
	runs  [][]pairedSample // runs[run][path], paths in specs order
}

// pairedRows are the raw rows and the selected typed rows of
// pairedConsumers, in that order.
func pairedRows(e *env) []rowSpec {
	var specs []rowSpec
	for _, s := range selectedRows(e) {
		if s.kind == kindRaw || s.kind == kindTyped && slices.Contains(pairedConsumers, s.name) {
			specs = append(specs, s)
		}
	}
	return specs
}

// comparePaired runs the paired phase runs times.
func comparePaired(ctx context.Context, e *env, runs int) (*pairedResult, error) {
	res := &pairedResult{specs: pairedRows(e)}
	if !slices.ContainsFunc(res.specs, func(s rowSpec) bool { return s.kind == kindTyped }) {
		return res, fmt.Errorf("%s: paired latency: no typed row selected (want one of %s)", e.transport, strings.Join(pairedConsumers, ", "))
	}
	for range runs {
		smp, err := measurePaired(ctx, e, res.specs, e.cfg)
		if err != nil {
			return res, fmt.Errorf("%s: paired latency: %w", e.transport, err)
		}
		res.runs = append(res.runs, smp)
	}
	return res, nil
}

// pairedPath is one row of a paired run.
type pairedPath struct {
	spec   rowSpec
	r      row
	h      *hook
	ls     *sink
	behind []time.Duration
	calls  []time.Duration
}

// measurePaired opens every row of specs, starts their consumers, waits
// until each delivered pairedProbes messages, then hands cfg.LatN events at
// cfg.LatRate/s to every path from one loop and records each path's
// publish→handler latency and how late each send was.
func measurePaired(ctx context.Context, e *env, specs []rowSpec, cfg phaseConfig) (_ []pairedSample, err error) {
	paths := make([]*pairedPath, 0, len(specs))
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, p := range slices.Backward(paths) {
			if cerr := p.r.close(cctx); cerr != nil {
				err = errors.Join(err, fmt.Errorf("%s: close: %w", p.spec.name, cerr))
			}
		}
	}()
	for _, s := range specs {
		r, err := s.open(ctx, e, e.name())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		paths = append(paths, &pairedPath{spec: s, r: r, h: newHook()})
	}
	for _, p := range paths {
		probe := newSink(pairedProbes)
		p.h.cur.Store(probe)
		if err := p.r.start(ctx, p.h); err != nil {
			return nil, fmt.Errorf("%s: consume: %w", p.spec.name, err)
		}
		for i := range pairedProbes {
			if err := p.r.publishSeq(ctx, cfg.LatN+i); err != nil {
				return nil, fmt.Errorf("%s: probe: %w", p.spec.name, err)
			}
		}
		if err := p.r.flush(ctx); err != nil {
			return nil, fmt.Errorf("%s: probe flush: %w", p.spec.name, err)
		}
		if err := wait(ctx, p.h, probe, cfg.Timeout, p.spec.name+": probe"); err != nil {
			return nil, err
		}
	}
	for _, p := range paths {
		p.ls = newLatencySink(cfg.LatN)
		p.behind = make([]time.Duration, 0, cfg.LatN)
		p.calls = make([]time.Duration, 0, cfg.LatN)
		p.h.cur.Store(p.ls)
	}

	runtime.GC()
	interval := time.Second / time.Duration(max(cfg.LatRate, 1))
	start := time.Now()
	for i := range cfg.LatN {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d) // pacing, not synchronisation
		}
		for j := range paths {
			p := paths[(i+j)%len(paths)]
			now := time.Now()
			if i >= p.ls.warm {
				p.behind = append(p.behind, now.Sub(due))
			}
			p.ls.mu.Lock()
			p.ls.sent[i] = now
			p.ls.mu.Unlock()
			if err := p.r.publishSeq(ctx, i); err != nil {
				return nil, fmt.Errorf("%s: publish: %w", p.spec.name, err)
			}
			if i >= p.ls.warm {
				p.calls = append(p.calls, time.Since(now))
			}
		}
	}
	for _, p := range paths {
		if err := p.r.flush(ctx); err != nil {
			return nil, fmt.Errorf("%s: flush: %w", p.spec.name, err)
		}
	}
	out := make([]pairedSample, len(paths))
	for k, p := range paths {
		if err := wait(ctx, p.h, p.ls, cfg.Timeout, p.spec.name); err != nil {
			return nil, err
		}
		p.ls.mu.Lock()
		lats := slices.Clone(p.ls.lats)
		out[k].seen = p.ls.uniq
		p.ls.mu.Unlock()
		slices.Sort(lats)
		slices.Sort(p.behind)
		slices.Sort(p.calls)
		out[k].call99 = quantile(p.calls, 0.99)
		out[k].p50 = quantile(lats, 0.5)
		out[k].p99 = quantile(lats, 0.99)
		out[k].p999 = quantile(lats, 0.999)
		out[k].behind99 = quantile(p.behind, 0.99)
		if err := p.h.error(); err != nil {
			return nil, fmt.Errorf("%s: %w", p.spec.name, err)
		}
	}
	return out, nil
}

// quantile of sorted xs (0 when empty).
func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, int(float64(len(xs))*q))]
}

// ratios returns, per run, path k's p99 ÷ the lowest raw p99 of that run.
func (r *pairedResult) ratios(k int) []float64 {
	var out []float64
	for _, run := range r.runs {
		var raw time.Duration
		for j, s := range r.specs {
			if s.kind == kindRaw && (raw == 0 || run[j].p99 < raw) {
				raw = run[j].p99
			}
		}
		if raw > 0 {
			out = append(out, float64(run[k].p99)/float64(raw))
		}
	}
	return out
}

// reportPaired prints the paired phase's table: per path the medians over
// the runs, and for each typed path the median, lowest and highest of the
// runs' ratios typed p99 ÷ raw p99.
func reportPaired(w io.Writer, e *env, r *pairedResult) {
	fmt.Fprintf(w, "\n%s paired latency: every path at once, %d events at %d/s each from one pacer (order rotated), first 10%% not counted, %d runs (medians)\n",
		e.transport, e.cfg.LatN, e.cfg.LatRate, len(r.runs))
	fmt.Fprintf(w, "%-62s %8s %8s %8s %8s %8s  %s\n", "path", "behind", "call", "p50", "p99", "p99.9", "p99 ÷ raw p99 of the same run: median [min–max]")
	for k, s := range r.specs {
		var b, c, p50, p99, p999 []float64
		for _, run := range r.runs {
			b = append(b, float64(run[k].behind99))
			c = append(c, float64(run[k].call99))
			p50 = append(p50, float64(run[k].p50))
			p99 = append(p99, float64(run[k].p99))
			p999 = append(p999, float64(run[k].p999))
		}
		ratio := ""
		if s.kind == kindTyped {
			rs := r.ratios(k)
			if len(rs) > 0 {
				ratio = fmt.Sprintf("%.2f [%.2f–%.2f]", median(rs), slices.Min(rs), slices.Max(rs))
				if len(rs) > 1 {
					ratio += " runs:"
					for _, x := range rs {
						ratio += fmt.Sprintf(" %.2f", x)
					}
				}
			}
		}
		fmt.Fprintf(w, "%-62s %8v %8v %8v %8v %8v  %s\n", s.name, rnd(b), rnd(c), rnd(p50), rnd(p99), rnd(p999), ratio)
	}
	if n := countKind(r.specs, kindRaw); n > 1 {
		fmt.Fprintf(w, "  ratios against the lower p99 of the %d raw paths in each run\n", n)
	}
}

// rnd is the median of durations xs, rounded for the table.
func rnd(xs []float64) time.Duration {
	return time.Duration(median(xs)).Round(10 * time.Microsecond)
}

func countKind(specs []rowSpec, kind string) int {
	n := 0
	for _, s := range specs {
		if s.kind == kind {
			n++
		}
	}
	return n
}
