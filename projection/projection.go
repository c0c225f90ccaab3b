// Package projection keeps a service's state as a fold of its event
// history: a typed state, events of one type applied in per-key order, a
// rebuild from the broker's history that reports when it has caught up,
// then the live events as they are stored, and snapshots saved together
// with the positions they reflect.
//
// A projection reads with transport.Read and transport.Follow: it joins no
// consumer group and commits nothing on the broker. Where it is is the
// positions in its snapshot. On start it loads the latest snapshot (state
// and, in the same record, the broker position of the last event that
// state includes), reads the history after those positions up to the head
// — repeatedly, until a pass finds nothing new — reports that it has
// caught up (CaughtUp), then follows the live events. A process killed at
// any point restarts from its last snapshot and re-applies exactly the
// events after it: the state it reaches applied every event once, none
// skipped, none twice (TestCrashRebuild kills one with SIGKILL while it
// folds 50,000 events).
//
// The state after the same history is the same whichever way it was
// reached — live, rebuilt from scratch, or resumed from a snapshot — as
// long as Apply is a function of the state and the event only (no clock,
// no randomness, no I/O whose result changes the state).
//
// It needs a transport that keeps history (Kafka, Redis Streams, NATS
// JetStream, and mem with mem.WithHistory); on RabbitMQ and on mem
// without history Run returns an error wrapping transport.ErrNotReplayable.
//
// Snapshots go to a Store: MemStore (in the process, for tests) or
// pgstore (PostgreSQL; state and positions in one row written in one
// transaction, with a hook to update the service's own tables in that
// transaction).
package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// ErrInvalidOption is wrapped by errors about a Config.
var ErrInvalidOption = errors.New("projection: invalid option")

// ErrRunning is returned by Run when the projection is already running
// or has run.
var ErrRunning = errors.New("projection: already run")

// DefaultSnapshotEvery is how many applied events a snapshot is saved
// after by default.
const DefaultSnapshotEvery = 1000

// DefaultDedupWindow is how many of the latest event ids a projection
// remembers to skip duplicates by default.
const DefaultDedupWindow = 4096

// Config describes a projection of state S folded from events of type E.
type Config[S any, E events.Event] struct {
	// Name identifies the projection's snapshots in the Store (required).
	Name string
	// Pattern selects the events folded ("execreport.#"); its kind (first
	// segment) names one stream. Required.
	Pattern string
	// Init returns the state before any event (nil: S's zero value).
	Init func() S
	// Apply folds one event into the state (required). Events of one
	// partition key come in the order they were stored. ctx carries the
	// event's envelope (events.EnvelopeFromContext) and broker position
	// (transport.PositionFromContext), and is done when Run's ctx is. An
	// error stops Run with an *ApplyError (unless it wraps the error of
	// Run's ended ctx: Run then ends as cancelled); the event is not
	// counted as applied and a restart tries it again — a fold never
	// skips an event.
	Apply func(ctx context.Context, state *S, ev E) error
	// Store keeps snapshots (required; MemStore or pgstore).
	Store Store
	// SnapshotEvery saves a snapshot after this many applied events
	// (default DefaultSnapshotEvery; negative: only when caught up and
	// when Run ends). A snapshot is also saved when a rebuild has caught
	// up and when Run ends.
	SnapshotEvery int
	// DedupWindow is how many of the latest event ids the projection
	// remembers (in its snapshots too) to skip a second copy of an event
	// in the history — a publisher that resent an event whose confirm was
	// lost (publisher.WithRetry) stores it twice, with the same id, close
	// together. Default DefaultDedupWindow; negative: none.
	DedupWindow int
	// StateVersion is the version of S's encoding. A snapshot saved with
	// another version is ignored and the state is rebuilt from the
	// beginning: change it whenever S or Apply changes meaning.
	StateVersion int
	// Logger logs snapshot loads and rebuild progress (nil: slog.Default()).
	Logger *slog.Logger
	// MeterProvider, if set, gets the projection's OpenTelemetry
	// instruments, each with the attribute tradebus.projection = Name:
	// tradebus.projection.applied, .skipped (duplicates), .retries (failed
	// reads started again) and .snapshots (saved) as observable counters,
	// and tradebus.projection.caught_up (0 or 1) as a gauge. They are read
	// at collection time: nothing is added to the per-event path.
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, makes a span per event applied, "apply
	// <kind>" (consumer kind), child of the span that published the
	// event (its traceparent metadata), so that what Apply publishes
	// continues the event's trace. Nil: no spans, nothing on the path.
	TracerProvider trace.TracerProvider
}

// Snapshot is a saved state and the positions of the last event it
// includes, per stream partition.
type Snapshot struct {
	StateVersion int
	State        []byte // S encoded with encoding/json
	Positions    []transport.Position
	Applied      uint64   // events applied since the beginning
	Recent       []string // ids of the latest events applied, oldest first (Config.DedupWindow)
	SavedAt      time.Time
}

// Store keeps a projection's latest snapshot. Save replaces the record
// atomically: a reader sees the old or the new one whole.
type Store interface {
	// Load returns the latest snapshot of name; ok is false if it has none.
	Load(ctx context.Context, name string) (s Snapshot, ok bool, err error)
	// Save stores s as name's latest snapshot.
	Save(ctx context.Context, name string, s Snapshot) error
	// Delete removes name's snapshot (the next Run rebuilds from the
	// beginning). Deleting none is not an error.
	Delete(ctx context.Context, name string) error
}

// ApplyError is Run's error when Apply failed: the event and its position.
type ApplyError struct {
	Position  transport.Position
	EventUUID string
	Err       error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("projection: apply event %s at %s: %v", e.EventUUID, e.Position, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Projection is a running fold. Its methods are safe for concurrent use.
type Projection[S any, E events.Event] struct {
	tr  transport.Transport
	cfg Config[S, E]
	log *slog.Logger

	mu      sync.RWMutex // guards state
	state   S
	applied atomic.Uint64

	// Owned by the Run goroutine.
	pos       map[streamPartition]transport.Position
	sinceSave int
	recent    recentIDs
	skipped   atomic.Uint64
	retries   atomic.Uint64

	started  atomic.Bool
	caughtUp chan struct{}
	saves    atomic.Uint64
	metrics  metric.Registration // nil without a MeterProvider
	tracer   trace.Tracer        // nil without a TracerProvider
	spanName string
}

type streamPartition struct {
	stream    string
	partition int32
}

// New returns a projection of cfg over tr. It reads nothing until Run.
func New[S any, E events.Event](tr transport.Transport, cfg Config[S, E]) (*Projection[S, E], error) {
	switch {
	case tr == nil:
		return nil, fmt.Errorf("%w: nil transport", ErrInvalidOption)
	case cfg.Name == "":
		return nil, fmt.Errorf("%w: empty name", ErrInvalidOption)
	case cfg.Apply == nil:
		return nil, fmt.Errorf("%w: nil Apply", ErrInvalidOption)
	case cfg.Store == nil:
		return nil, fmt.Errorf("%w: nil Store", ErrInvalidOption)
	}
	if err := events.ValidatePattern(cfg.Pattern); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = DefaultSnapshotEvery
	}
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &Projection[S, E]{
		tr: tr, cfg: cfg,
		log:      log.With("projection", cfg.Name),
		pos:      make(map[streamPartition]transport.Position),
		caughtUp: make(chan struct{}),
	}
	p.state = p.initial()
	p.recent = newRecentIDs(cfg.DedupWindow)
	if cfg.TracerProvider != nil {
		p.tracer = cfg.TracerProvider.Tracer("github.com/tradebus/tradebus/projection")
		p.spanName = "apply " + events.Kind(cfg.Pattern)
	}
	if cfg.MeterProvider != nil {
		if err := p.instrument(cfg.MeterProvider); err != nil {
			return nil, fmt.Errorf("projection %s: metrics: %w", cfg.Name, err)
		}
	}
	return p, nil
}

// instrument registers the projection's observable instruments.
func (p *Projection[S, E]) instrument(mp metric.MeterProvider) error {
	m := mp.Meter("github.com/tradebus/tradebus/projection")
	applied, err1 := m.Int64ObservableCounter("tradebus.projection.applied",
		metric.WithDescription("Events the projection's state includes."), metric.WithUnit("{event}"))
	skipped, err2 := m.Int64ObservableCounter("tradebus.projection.skipped",
		metric.WithDescription("Copies of an event already applied, skipped."), metric.WithUnit("{event}"))
	retries, err3 := m.Int64ObservableCounter("tradebus.projection.retries",
		metric.WithDescription("Failed reads started again from the last event applied."), metric.WithUnit("{retry}"))
	snapshots, err4 := m.Int64ObservableCounter("tradebus.projection.snapshots",
		metric.WithDescription("Snapshots saved."), metric.WithUnit("{snapshot}"))
	caughtUp, err5 := m.Int64ObservableGauge("tradebus.projection.caught_up",
		metric.WithDescription("1 once the projection has caught up with the history, else 0."))
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return err
	}
	attrs := metric.WithAttributes(attribute.String("tradebus.projection", p.cfg.Name))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(applied, int64(p.applied.Load()), attrs)
		o.ObserveInt64(skipped, int64(p.skipped.Load()), attrs)
		o.ObserveInt64(retries, int64(p.retries.Load()), attrs)
		o.ObserveInt64(snapshots, int64(p.saves.Load()), attrs)
		up := int64(0)
		select {
		case <-p.caughtUp:
			up = 1
		default:
		}
		o.ObserveInt64(caughtUp, up, attrs)
		return nil
	}, applied, skipped, retries, snapshots, caughtUp)
	if err != nil {
		return err
	}
	p.metrics = reg
	return nil
}

// Close unregisters the projection's instruments (Config.MeterProvider);
// call it when the projection is no longer used. Without a MeterProvider
// it does nothing.
func (p *Projection[S, E]) Close() error {
	if p.metrics == nil {
		return nil
	}
	return p.metrics.Unregister()
}

func (p *Projection[S, E]) initial() S {
	if p.cfg.Init != nil {
		return p.cfg.Init()
	}
	var zero S
	return zero
}

// CaughtUp is closed once Run has applied the whole history stored before
// it started (and what arrived while it read that): serve from the state
// after this.
func (p *Projection[S, E]) CaughtUp() <-chan struct{} { return p.caughtUp }

// WaitCaughtUp waits until the projection has caught up or ctx is done.
func (p *Projection[S, E]) WaitCaughtUp(ctx context.Context) error {
	select {
	case <-p.caughtUp:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// View calls fn with the current state, which fn must only read and not
// retain (copy what it needs): events are not applied while fn runs.
func (p *Projection[S, E]) View(fn func(state *S)) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fn(&p.state)
}

// Applied returns how many events the state includes, since the
// beginning of the history (snapshots carry the count across restarts).
func (p *Projection[S, E]) Applied() uint64 { return p.applied.Load() }

// Skipped returns how many copies of an event already applied (same id,
// within DedupWindow) this projection skipped.
func (p *Projection[S, E]) Skipped() uint64 { return p.skipped.Load() }

// Run loads the latest snapshot, applies the history after it until
// caught up (closing CaughtUp), then applies live events until ctx is
// done. When ctx is done it saves a last snapshot and returns nil.
//
// A read that fails — the broker unreachable, a connection cut, a
// snapshot that could not be saved — is logged and started again from
// the positions of the last event applied, after a backoff (100 ms
// doubling to 5 s; Retries counts them), for as long as ctx lasts. Run
// returns an *ApplyError when Apply fails, an error wrapping
// transport.ErrNotReplayable on a transport that keeps no history or
// transport.ErrClosed on a closed one, and the store's error if the first
// snapshot cannot be loaded. A projection runs once.
func (p *Projection[S, E]) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	if err := p.load(ctx); err != nil {
		return err
	}
	for pass := 1; ; pass++ {
		before := p.applied.Load()
		if err := p.retrying(ctx, transport.Read); err != nil {
			return p.stop(ctx, err)
		}
		n := p.applied.Load() - before
		p.log.Debug("rebuild pass", "pass", pass, "applied", n)
		if n == 0 {
			break
		}
	}
	if err := p.save(ctx); err != nil {
		// The state is whole; the next snapshot (or the last, when Run
		// ends) saves it.
		p.log.Warn("projection: snapshot when caught up not saved", "error", err)
	}
	p.log.Info("caught up", "applied", p.applied.Load(), "positions", len(p.pos))
	close(p.caughtUp)
	return p.stop(ctx, p.retrying(ctx, transport.Follow))
}

// Retry waits after a failed read: from retryMin, doubling to retryMax,
// back to retryMin once a read applied something.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// retrying runs p.read until it returns nil or an error no retry can
// fix: ctx's end, an *ApplyError, a transport that keeps no history or is
// closed. Any other error — the broker unreachable, a connection cut, the
// snapshot store failing — is logged and the read started again from the
// positions of the last event applied, so nothing is skipped or applied
// twice.
func (p *Projection[S, E]) retrying(ctx context.Context,
	read func(context.Context, transport.Transport, string, transport.From, func(*message.Message) bool) error) error {
	wait := retryMin
	for {
		before := p.applied.Load()
		err := p.read(ctx, read)
		var ae *ApplyError
		switch {
		case err == nil, ctx.Err() != nil, errors.As(err, &ae),
			errors.Is(err, transport.ErrNotReplayable), errors.Is(err, transport.ErrClosed):
			return err
		}
		if p.applied.Load() != before {
			wait = retryMin
		}
		p.retries.Add(1)
		p.log.Warn("projection: read failed; reading again from the last event applied", "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, retryMax)
	}
}

// Retries returns how many times a read failed and was started again.
func (p *Projection[S, E]) Retries() uint64 { return p.retries.Load() }

// read runs read (transport.Read or Follow) from the projection's
// positions, applying each message; it returns the first error of the
// read or of an apply.
func (p *Projection[S, E]) read(ctx context.Context,
	read func(context.Context, transport.Transport, string, transport.From, func(*message.Message) bool) error) error {
	var applyErr error
	err := read(ctx, p.tr, p.cfg.Pattern, p.from(), func(msg *message.Message) bool {
		if err := p.apply(msg); err != nil {
			applyErr = err
			return false
		}
		return true
	})
	if applyErr != nil {
		return applyErr
	}
	return err
}

// stop ends Run: when ctx is done (whatever the read said about it) a
// last snapshot and nil, unless an event failed for another reason than
// ctx's end (an Apply that publishes fails when ctx is cancelled; the
// event is not counted and the next run applies it); else err.
func (p *Projection[S, E]) stop(ctx context.Context, err error) error {
	var ae *ApplyError
	if ctx.Err() == nil || (errors.As(err, &ae) && !errors.Is(err, ctx.Err())) {
		return err
	}
	return p.save(ctx)
}

func (p *Projection[S, E]) load(ctx context.Context) error {
	s, ok, err := p.cfg.Store.Load(ctx, p.cfg.Name)
	if err != nil {
		return fmt.Errorf("projection %s: load snapshot: %w", p.cfg.Name, err)
	}
	if !ok {
		return nil
	}
	if s.StateVersion != p.cfg.StateVersion {
		p.log.Info("snapshot of another state version ignored: rebuilding from the beginning",
			"snapshot_version", s.StateVersion, "version", p.cfg.StateVersion)
		return nil
	}
	state := p.initial()
	if err := json.Unmarshal(s.State, &state); err != nil {
		return fmt.Errorf("projection %s: decode snapshot state: %w", p.cfg.Name, err)
	}
	p.mu.Lock()
	p.state = state
	p.mu.Unlock()
	for _, pos := range s.Positions {
		p.pos[streamPartition{pos.Stream, pos.Partition}] = pos
	}
	p.applied.Store(s.Applied)
	for _, id := range s.Recent {
		p.recent.add(id)
	}
	p.log.Info("snapshot loaded", "applied", s.Applied, "saved_at", s.SavedAt)
	return nil
}

func (p *Projection[S, E]) positions() []transport.Position {
	ps := make([]transport.Position, 0, len(p.pos))
	for _, pos := range p.pos {
		ps = append(ps, pos)
	}
	return ps
}

func (p *Projection[S, E]) from() transport.From {
	if len(p.pos) == 0 {
		return transport.FromBeginning()
	}
	return transport.FromPosition(p.positions()...)
}

func (p *Projection[S, E]) apply(msg *message.Message) error {
	pos, _ := transport.PositionFromContext(msg.Context())
	if p.recent.has(msg.UUID) {
		p.pos[streamPartition{pos.Stream, pos.Partition}] = pos
		p.skipped.Add(1)
		return nil
	}
	ev, err := subscriber.Decode[E](msg)
	if err == nil {
		ctx := msg.Context()
		var span trace.Span
		if p.tracer != nil {
			ctx, span = p.startSpan(ctx, msg, pos)
		}
		ctx = events.ContextWithMetadata(ctx, msg.Metadata)
		p.mu.Lock()
		err = p.cfg.Apply(ctx, &p.state, ev)
		p.mu.Unlock()
		if span != nil {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
	if err != nil {
		return &ApplyError{Position: pos, EventUUID: msg.UUID, Err: err}
	}
	p.pos[streamPartition{pos.Stream, pos.Partition}] = pos
	p.recent.add(msg.UUID)
	p.applied.Add(1)
	p.sinceSave++
	if p.cfg.SnapshotEvery > 0 && p.sinceSave >= p.cfg.SnapshotEvery {
		return p.save(msg.Context())
	}
	return nil
}

// saveTimeout bounds one snapshot save.
const saveTimeout = 30 * time.Second

// startSpan starts msg's apply span, child of the span in its
// traceparent metadata.
func (p *Projection[S, E]) startSpan(ctx context.Context, msg *message.Message, pos transport.Position) (context.Context, trace.Span) {
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(msg.Metadata))
	return p.tracer.Start(ctx, p.spanName, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("tradebus.projection", p.cfg.Name),
		attribute.String("messaging.message.id", msg.UUID),
		attribute.String("tradebus.position", pos.String()),
	))
}

// save stores a snapshot of the state and positions if anything was
// applied since the last one. Cancelling Run's ctx does not interrupt a
// save (Run saves once more on its way out); saveTimeout bounds it. Only
// the Run goroutine writes the state, so it is read here without the lock.
func (p *Projection[S, E]) save(ctx context.Context) error {
	if p.sinceSave == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	state, err := json.Marshal(&p.state)
	if err != nil {
		return fmt.Errorf("projection %s: encode state: %w", p.cfg.Name, err)
	}
	s := Snapshot{
		StateVersion: p.cfg.StateVersion,
		State:        state,
		Positions:    p.positions(),
		Applied:      p.applied.Load(),
		Recent:       p.recent.list(),
		SavedAt:      time.Now().UTC(),
	}
	if err := p.cfg.Store.Save(ctx, p.cfg.Name, s); err != nil {
		return fmt.Errorf("projection %s: save snapshot: %w", p.cfg.Name, err)
	}
	p.saves.Add(1)
	p.sinceSave = 0
	return nil
}

// recentIDs is a bounded set of the latest event ids: a ring in arrival
// order and a set over it. Only the Run goroutine uses it.
type recentIDs struct {
	ring []string
	next int
	set  map[string]struct{}
}

func newRecentIDs(n int) recentIDs {
	if n <= 0 {
		return recentIDs{}
	}
	return recentIDs{ring: make([]string, 0, n), set: make(map[string]struct{}, n)}
}

func (r *recentIDs) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recentIDs) add(id string) {
	switch {
	case cap(r.ring) == 0 || id == "":
		return
	case len(r.ring) < cap(r.ring):
		r.ring = append(r.ring, id)
	default:
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[id] = struct{}{}
}

// list returns the ids oldest first.
func (r *recentIDs) list() []string {
	out := make([]string, 0, len(r.ring))
	out = append(out, r.ring[r.next:]...)
	return append(out, r.ring[:r.next]...)
}
