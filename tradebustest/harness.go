package tradebustest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

// TB is the part of testing.TB the harness uses. *testing.T and
// *testing.B satisfy it, and so does any test type a testify suite hands
// out; testify's assert and require accept it too (they need Errorf and
// FailNow).
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	FailNow()
	Cleanup(func())
}

// DefaultTimeout is how long a wait (Publish's start of the groups,
// WaitHandled, Eventually) may take before the test fails. It is generous
// on purpose: waits end on a signal, not on a clock, so a long deadline
// costs nothing when the code under test is right and keeps a busy CI
// machine from failing a correct test.
const DefaultTimeout = 2 * time.Minute

// Retry backoff of the harness's stacks (unless a test passes its own
// middleware.WithBackoff): the production schedule (100 ms, doubling, 5 s
// cap) would make every failing handler cost seconds of test time.
const (
	DefaultBackoffInitial = time.Millisecond
	DefaultBackoffMax     = 10 * time.Millisecond
)

// ErrHandlerPanicked is the error recorded for a handler attempt that
// panicked (the recoverer turns the panic into the error the stack sees).
var ErrHandlerPanicked = errors.New("tradebustest: handler panicked")

// Option configures New.
type Option func(*config)

type config struct {
	timeout time.Duration
	mw      []middleware.Option
	mem     []mem.Option
	logger  *slog.Logger
}

// WithTimeout sets the deadline of every wait. Default: DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMiddleware adds opts to every group's middleware.Default, after the
// harness's own (WithConsumerGroup, the short backoff, the logger), so
// they can override those: e.g. middleware.WithDedupStore,
// middleware.WithMaxAttempts. Default: none.
func WithMiddleware(opts ...middleware.Option) Option {
	return func(c *config) { c.mw = append(c.mw, opts...) }
}

// WithMemOptions configures the in-memory transport (mem.WithBuffer,
// mem.WithConcurrency, ...). Default: none.
func WithMemOptions(opts ...mem.Option) Option {
	return func(c *config) { c.mem = append(c.mem, opts...) }
}

// WithLogger sets the logger of the middleware and the transport.
// Default: warnings and errors (retries, dead letters) written to t.Logf.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Harness runs a service's handlers on an in-memory transport inside one
// test: it starts every group's handlers before anything is published,
// records what is published, attempted, consumed and dead-lettered, and
// waits for it without sleeping. Create it with New; it cleans up with
// t.Cleanup.
//
// Methods that can fail the test (New, Group, Start, Publish, WaitHandled,
// Eventually) must be called from the test's goroutine; the assertions
// (Published, Consumed, Retried, DeadLettered, DuplicatesSkipped) and the
// publishers are safe for concurrent use, handlers included.
type Harness struct {
	t       TB
	cfg     config
	tr      *transport.Portable
	rec     *recorder
	pub     *publisher.Publisher
	ctx     context.Context
	cancel  context.CancelFunc
	log     *slog.Logger
	startMu sync.Mutex // one start at a time

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced at every record
	groups    map[string]*group
	order     []string
	published []record
	closed    bool
}

// group is one consumer group under test.
type group struct {
	name    string
	g       *subscriber.Group
	stack   *middleware.Stack
	started bool
	ran     chan error // Run's result
	ended   bool       // Run returned (guarded by Harness.mu)
	runErr  error

	attempts []record       // every handler attempt, in order
	handled  map[string]int // message UUID -> deliveries acked
}

// record is one message seen by the harness: published (key set) or
// attempted by a handler (err set on failure).
type record struct {
	key     string
	uuid    string
	md      map[string]string
	payload []byte
	err     error
}

func (r record) eventType() string { return r.md[events.MetaType] }

// New returns a Harness on a new in-memory transport. It fails the test if
// the transport cannot be built, and registers the cleanup that stops the
// handlers (draining them), checks that they stopped cleanly and closes
// the transport.
func New(t TB, opts ...Option) *Harness {
	t.Helper()
	cfg := config{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&cfg)
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	tr, err := mem.New(append([]mem.Option{mem.WithTransportOptions(transport.WithLogger(log))}, cfg.mem...)...)
	if err != nil {
		t.Errorf("tradebustest: in-memory transport: %v", err)
		t.FailNow()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Harness{
		t: t, cfg: cfg, tr: tr, ctx: ctx, cancel: cancel, log: log,
		changed: make(chan struct{}), groups: map[string]*group{},
	}
	h.rec = &recorder{h: h, next: tr.Publisher()}
	h.pub, err = publisher.New(h.rec, publisher.WithSource("/tradebustest"))
	if err != nil {
		t.Errorf("tradebustest: publisher: %v", err)
		t.FailNow()
	}
	t.Cleanup(h.close)
	return h
}

// Transport returns the in-memory transport.
func (h *Harness) Transport() *transport.Portable { return h.tr }

// Context returns a context that ends when the test's cleanup begins.
func (h *Harness) Context() context.Context { return h.ctx }

// Publisher returns a typed publisher whose events the harness records
// (source "/tradebustest"). Give it to the code under test — handlers that
// publish, gateways — so that what they publish shows in Published and
// WaitHandled waits for it. Its first publish starts the groups, as
// Publish does.
func (h *Harness) Publisher() *publisher.Publisher { return h.pub }

// MessagePublisher returns the recorded Watermill publisher under
// Publisher, for publisher.New with options of your own, for
// middleware.WithRequeue, or to publish raw messages (a redelivered
// duplicate, a malformed body).
func (h *Harness) MessagePublisher() message.Publisher { return h.rec }

// Group returns the consumer group name, creating it on first use with
// middleware.Default built for it (the production stack, with a short
// retry backoff — see DefaultBackoffInitial — and opts after the
// harness's WithMiddleware options). Register its handlers with
// subscriber.On, or hand it to the function your service registers its
// handlers with. A later call with the same name returns the same group
// and must not pass opts. Groups start on the first publish (or Start).
func (h *Harness) Group(name string, opts ...middleware.Option) *subscriber.Group {
	h.t.Helper()
	h.mu.Lock()
	if g, ok := h.groups[name]; ok {
		h.mu.Unlock()
		if len(opts) > 0 {
			h.fatalf("group %q exists already; pass its middleware options on its first Group call", name)
		}
		return g.g
	}
	h.mu.Unlock()
	mwOpts := append([]middleware.Option{
		middleware.WithConsumerGroup(name),
		middleware.WithLogger(h.log),
		middleware.WithBackoff(DefaultBackoffInitial, middleware.DefaultMultiplier, DefaultBackoffMax),
	}, h.cfg.mw...)
	stack, err := middleware.Default(h.rec, append(mwOpts, opts...)...)
	if err != nil {
		h.fatalf("group %q: middleware: %v", name, err)
	}
	sub, err := h.tr.Subscriber(name)
	if err != nil {
		h.fatalf("group %q: subscriber: %v", name, err)
	}
	gr := &group{name: name, stack: stack, ran: make(chan error, 1), handled: map[string]int{}}
	mws := append([]message.HandlerMiddleware{h.outcomes(gr)}, stack.Middlewares()...)
	gr.g, err = subscriber.NewGroup(sub, append(mws, h.attempts(gr))...)
	if err != nil {
		h.fatalf("group %q: %v", name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.groups[name]; dup { // created concurrently: keep the first
		return h.groups[name].g
	}
	h.groups[name] = gr
	h.order = append(h.order, name)
	return gr.g
}

// Stack returns group's middleware stack (its Poison, Retry and Dedup
// expose counters and settings), or nil for an unknown group.
func (h *Harness) Stack(group string) *middleware.Stack {
	if g := h.lookupGroup(group); g != nil {
		return g.stack
	}
	return nil
}

// Start runs every group not running yet and waits until each one's
// subscriptions are established. Publish and the harness's publishers
// call it, so a test needs it only to have the handlers running before
// something else happens.
func (h *Harness) Start() {
	h.t.Helper()
	if err := h.start(); err != nil {
		h.fatalf("%v", err)
	}
}

// start is Start returning its error (publishers call it from any
// goroutine).
func (h *Harness) start() error {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	h.mu.Lock()
	var todo []*group
	for _, name := range h.order {
		if g := h.groups[name]; !g.started {
			todo = append(todo, g)
		}
	}
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return errors.New("tradebustest: the test's cleanup has begun")
	}
	for _, g := range todo {
		if len(g.g.Patterns()) == 0 {
			return fmt.Errorf("tradebustest: group %q has no handler: register one (subscriber.On) before publishing", g.name)
		}
	}
	deadline := time.NewTimer(h.cfg.timeout)
	defer deadline.Stop()
	for _, g := range todo {
		h.mu.Lock()
		g.started = true
		h.mu.Unlock()
		go func() {
			err := g.g.Run(h.ctx)
			h.mu.Lock()
			g.ended, g.runErr = true, err
			h.signalLocked()
			h.mu.Unlock()
			g.ran <- err
		}()
		select {
		case <-g.g.Running():
		case err := <-g.ran:
			g.ran <- err
			return fmt.Errorf("tradebustest: group %q did not start: %w", g.name, err)
		case <-deadline.C:
			return fmt.Errorf("tradebustest: group %q not subscribed within %v", g.name, h.cfg.timeout)
		}
	}
	return nil
}

// Publish publishes evs with Publisher, after starting every group (so
// nothing is published before its subscribers exist), and fails the test
// if that fails. It returns once the transport stored the events; use
// WaitHandled to wait for the handlers.
func (h *Harness) Publish(evs ...events.Event) {
	h.t.Helper()
	if err := h.start(); err != nil {
		h.fatalf("%v", err)
	}
	if err := h.pub.Publish(h.ctx, evs...); err != nil {
		h.fatalf("publish: %v", err)
	}
}

// WaitHandled waits until every message published through the harness so
// far — including those the handlers published meanwhile, dead letters
// and requeued copies — has been handled to the end (acked: consumed,
// skipped as a duplicate or dead-lettered) by every group with a handler
// whose pattern matches it. It fails the test if that does not happen
// within the timeout, or if a group stopped, naming what is pending.
func (h *Harness) WaitHandled() {
	h.t.Helper()
	h.wait("every published event handled", func() bool { return len(h.pending(1)) == 0 })
}

// Eventually waits until cond returns true, checking it now and again
// each time the harness records something (a publish, a handler attempt,
// an outcome) — never on a timer. It fails the test with the message
// format, args if cond is still false after the timeout. cond must not
// block; it may call the assertions.
func (h *Harness) Eventually(cond func() bool, format string, args ...any) {
	h.t.Helper()
	h.wait(fmt.Sprintf(format, args...), cond)
}

func (h *Harness) wait(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(h.cfg.timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		changed := h.changed
		var stopped []string
		for _, name := range h.order {
			if g := h.groups[name]; g.ended {
				stopped = append(stopped, fmt.Sprintf("group %q stopped: %v", name, g.runErr))
			}
		}
		h.mu.Unlock()
		if cond() {
			return
		}
		if len(stopped) > 0 {
			h.fatalf("waiting for %s: %s", what, strings.Join(stopped, "; "))
		}
		select {
		case <-changed:
		case <-deadline.C:
			h.fatalf("%s: still not true after %v%s", what, h.cfg.timeout, h.describePending())
		}
	}
}

// pendingItem is a published message a group has not finished.
type pendingItem struct {
	group string
	rec   record
	left  int
}

// pending returns up to max messages some group still owes an outcome.
func (h *Harness) pending(max int) []pendingItem {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []pendingItem
	type gk struct{ group, uuid string }
	expected := map[gk]int{}
	first := map[gk]record{}
	var keys []gk
	for _, name := range h.order {
		g := h.groups[name]
		if !g.started {
			continue
		}
		patterns := uniq(g.g.Patterns())
		for _, r := range h.published {
			n := 0
			for _, p := range patterns {
				if events.MatchPattern(p, r.key) {
					n++
				}
			}
			if n == 0 {
				continue
			}
			k := gk{name, r.uuid}
			if _, ok := expected[k]; !ok {
				keys = append(keys, k)
				first[k] = r
			}
			expected[k] += n
		}
	}
	for _, k := range keys {
		if left := expected[k] - h.groups[k.group].handled[k.uuid]; left > 0 {
			out = append(out, pendingItem{group: k.group, rec: first[k], left: left})
			if len(out) == max {
				break
			}
		}
	}
	return out
}

// describePending names what WaitHandled is still waiting for.
func (h *Harness) describePending() string {
	items := h.pending(5)
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; not handled yet:")
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range items {
		g := h.groups[it.group]
		n, last := 0, error(nil)
		for _, a := range g.attempts {
			if a.uuid == it.rec.uuid {
				n++
				last = a.err
			}
		}
		fmt.Fprintf(&b, "\n\tgroup %q: %s %s (id %s): %d handler attempts", it.group, it.rec.eventType(), it.rec.key, it.rec.uuid, n)
		if last != nil {
			fmt.Fprintf(&b, ", last error: %v", last)
		}
	}
	return b.String()
}

// outcomes is the outermost middleware of group g: it records each
// delivery the chain settled with nil (acked).
func (h *Harness) outcomes(g *group) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := next(msg)
			if err == nil {
				h.mu.Lock()
				g.handled[msg.UUID]++
				h.signalLocked()
				h.mu.Unlock()
			}
			return out, err
		}
	}
}

// attempts is the innermost middleware of group g, around the typed
// handler: it records every attempt and its error.
func (h *Harness) attempts(g *group) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			returned := false
			defer func() {
				if !returned { // a panic on its way to the recoverer
					h.recordAttempt(g, msg, ErrHandlerPanicked)
				}
			}()
			out, err := next(msg)
			returned = true
			h.recordAttempt(g, msg, err)
			return out, err
		}
	}
}

func (h *Harness) recordAttempt(g *group, msg *message.Message, err error) {
	r := record{uuid: msg.UUID, md: copyMetadata(msg.Metadata), payload: msg.Payload, err: err}
	h.mu.Lock()
	g.attempts = append(g.attempts, r)
	h.signalLocked()
	h.mu.Unlock()
}

// signalLocked wakes every wait. h.mu is held.
func (h *Harness) signalLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// close is the test's cleanup: stop every group (they drain), report a
// drain cut short, close the transport.
func (h *Harness) close() {
	h.t.Helper()
	h.startMu.Lock() // no start in progress from here on
	h.mu.Lock()
	h.closed = true
	var started []*group
	for _, name := range h.order {
		if g := h.groups[name]; g.started {
			started = append(started, g)
		}
	}
	h.mu.Unlock()
	h.startMu.Unlock()
	h.cancel()
	for _, g := range started {
		if err := <-g.ran; err != nil {
			h.t.Errorf("tradebustest: group %q: %v", g.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.timeout)
	defer cancel()
	if err := h.tr.Close(ctx); err != nil {
		h.t.Errorf("tradebustest: close transport: %v", err)
	}
}

func (h *Harness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Errorf("tradebustest: "+format, args...)
	h.t.FailNow()
}

// lookupGroup returns the named group, reporting an unknown name.
func (h *Harness) lookupGroup(name string) *group {
	h.mu.Lock()
	g, ok := h.groups[name]
	names := append([]string(nil), h.order...)
	h.mu.Unlock()
	if !ok {
		sort.Strings(names)
		h.t.Errorf("tradebustest: no group %q (groups: %s)", name, strings.Join(names, ", "))
	}
	return g
}

func copyMetadata(md message.Metadata) map[string]string {
	out := make(map[string]string, len(md))
	for k, v := range md {
		out[k] = v
	}
	return out
}

func uniq(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// tbWriter writes log lines to t.Logf.
type tbWriter struct{ t TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = tbWriter{}
