package publisher

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// ErrClosed is returned by Async.Publish after Close started.
var ErrClosed = errors.New("publisher: async publisher closed")

// Result is the outcome of one event given to Async.Publish.
type Result struct {
	ID    string       // the event id (envelope id, Watermill UUID)
	Event events.Event // the event as given
	Err   error        // nil: the broker confirmed it
}

// FailedError is returned by Async.Flush and Async.Close when events
// failed since the previous Flush. Each failure was also reported to the
// result func (WithResultFunc).
type FailedError struct {
	Failed int   // events that failed
	First  error // the first failure's cause
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("publisher: %d events not published, first: %v", e.Failed, e.First)
}

// Unwrap returns the first failure's cause.
func (e *FailedError) Unwrap() error { return e.First }

// Defaults of the asynchronous publisher's options.
const (
	DefaultMaxInFlight = 4096
	DefaultBatchSize   = 256
	DefaultSenders     = 2
	DefaultSendTimeout = 30 * time.Second
	MaxMaxInFlight     = 1 << 20
)

type asyncConfig struct {
	maxInFlight int
	batch       int
	senders     int
	sendTimeout time.Duration
	result      func(Result)
}

// AsyncOption configures NewAsync.
type AsyncOption func(*asyncConfig) error

// WithMaxInFlight bounds the events given to Publish and not yet confirmed
// or failed; Publish waits for room beyond it (backpressure). 1 to
// MaxMaxInFlight; default 4096.
func WithMaxInFlight(n int) AsyncOption {
	return func(c *asyncConfig) error {
		if n < 1 || n > MaxMaxInFlight {
			return fmt.Errorf("%w: max in flight %d, want 1 to %d", ErrInvalidOption, n, MaxMaxInFlight)
		}
		c.maxInFlight = n
		return nil
	}
}

// WithBatchSize bounds the events sent in one pipelined batch. 1 to 4096;
// default 256.
func WithBatchSize(n int) AsyncOption {
	return func(c *asyncConfig) error {
		if n < 1 || n > 4096 {
			return fmt.Errorf("%w: batch size %d, want 1 to 4096", ErrInvalidOption, n)
		}
		c.batch = n
		return nil
	}
}

// WithSenders sets how many batches may be in flight at once. Events are
// spread over the senders by partition key, so each key keeps its order.
// 1 to 64; default 2.
func WithSenders(n int) AsyncOption {
	return func(c *asyncConfig) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("%w: senders %d, want 1 to 64", ErrInvalidOption, n)
		}
		c.senders = n
		return nil
	}
}

// WithSendTimeout bounds one batch's send and confirmation; its events fail
// after it. 1ms to 1h; default 30s.
func WithSendTimeout(d time.Duration) AsyncOption {
	return func(c *asyncConfig) error {
		if d < time.Millisecond || d > time.Hour {
			return fmt.Errorf("%w: send timeout %s, want 1ms to 1h", ErrInvalidOption, d)
		}
		c.sendTimeout = d
		return nil
	}
}

// WithResultFunc sets a func called once per event with its outcome, on a
// sender goroutine (keep it short; it delays that sender's next batch).
// Default: none (failures are still counted for Flush).
func WithResultFunc(f func(Result)) AsyncOption {
	return func(c *asyncConfig) error {
		if f == nil {
			return fmt.Errorf("%w: nil result func", ErrInvalidOption)
		}
		c.result = f
		return nil
	}
}

// Async publishes events without waiting for the broker on each call: for
// gateways that must not stall on a confirm. Publish validates and encodes
// the events, queues them and returns; sender goroutines send them in
// pipelined batches (one batch in flight per sender) and report each
// event's outcome. Nothing confirmed is lost; nothing fails silently: every
// failure goes to the result func and is counted for Flush. Async does not
// retry: a failed event is the caller's to republish (with dedup
// downstream, republishing the same event is harmless).
//
// An Async is safe for concurrent use. Its zero value is not usable; call
// NewAsync, and Close it.
type Async struct {
	p    *Publisher
	cfg  asyncConfig
	seed maphash.Seed
	sem  chan struct{} // one token per event in flight
	qs   []chan asyncItem
	wg   sync.WaitGroup

	ctx    context.Context // cancelled when Close gives up
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	pending int
	idle    chan struct{} // closed while pending == 0
	failed  int
	first   error
}

type asyncItem struct {
	dm driver.Message
	ev events.Event
}

// NewAsync returns an asynchronous publisher sending through p.
func (p *Publisher) NewAsync(opts ...AsyncOption) (*Async, error) {
	cfg := asyncConfig{
		maxInFlight: DefaultMaxInFlight,
		batch:       DefaultBatchSize,
		senders:     DefaultSenders,
		sendTimeout: DefaultSendTimeout,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	a := &Async{
		p:    p,
		cfg:  cfg,
		seed: maphash.MakeSeed(),
		sem:  make(chan struct{}, cfg.maxInFlight),
		qs:   make([]chan asyncItem, cfg.senders),
		idle: make(chan struct{}),
	}
	close(a.idle)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for i := range a.qs {
		a.qs[i] = make(chan asyncItem, cfg.maxInFlight)
		a.wg.Add(1)
		go a.send(a.qs[i])
	}
	return a, nil
}

// Publish validates and encodes evs (an invalid one makes it return an
// *EventError and queue nothing), then queues them, waiting while
// MaxInFlight events are in flight, until ctx is done. It returns once
// they are queued: their outcomes come to the result func, and Flush
// waits for them. Correlation and causation come from ctx as for
// Publisher.Publish.
func (a *Async) Publish(ctx context.Context, evs ...events.Event) error {
	items := make([]asyncItem, len(evs))
	for i, ev := range evs {
		if err := a.p.outgoing(ctx, ev, &items[i].dm); err != nil {
			return &EventError{Index: i, Type: typeName(ev), Err: err}
		}
		items[i].ev = ev
	}
	for i, it := range items {
		select {
		case a.sem <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("publisher: %d of %d events queued: %w", i, len(items), ctx.Err())
		}
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			<-a.sem
			return ErrClosed
		}
		if a.pending == 0 {
			a.idle = make(chan struct{})
		}
		a.pending++
		// Under a.mu, so that Close cannot close the queues in between.
		q := a.qs[maphash.String(a.seed, it.dm.PartitionKey)%uint64(len(a.qs))]
		q <- it // never blocks: sem bounds what all queues hold
		a.mu.Unlock()
	}
	return nil
}

// send is one sender: it takes what is queued (up to the batch size),
// sends it as one batch and reports every event's outcome.
func (a *Async) send(q chan asyncItem) {
	defer a.wg.Done()
	batch := make([]asyncItem, 0, a.cfg.batch)
	for it := range q {
		batch = append(batch[:0], it)
	more:
		for len(batch) < a.cfg.batch {
			select {
			case it, ok := <-q:
				if !ok {
					break more
				}
				batch = append(batch, it)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(a.ctx, a.cfg.sendTimeout)
		err := a.sendBatch(ctx, batch)
		cancel()
		a.done(batch, err)
		clear(batch)
	}
}

// sendBatch sends one batch: directly on a tradebus transport, as Watermill
// messages otherwise.
func (a *Async) sendBatch(ctx context.Context, batch []asyncItem) error {
	if ms, ok := a.p.pub.(messageSender); ok {
		dms := make([]driver.Message, len(batch))
		for i := range batch {
			dms[i] = batch[i].dm
		}
		if err := ms.SendMessages(ctx, dms); err != nil {
			return fmt.Errorf("publisher: publish %d events: %w", len(dms), err)
		}
		return nil
	}
	msgs := make([]*message.Message, len(batch))
	for i := range batch {
		msgs[i] = message.NewMessage(batch[i].dm.UUID, batch[i].dm.Payload)
		msgs[i].Metadata = batch[i].dm.Metadata
		msgs[i].SetContext(ctx)
	}
	return a.p.publishMessages(ctx, msgs)
}

// done reports the outcome of a batch and frees its slots.
func (a *Async) done(batch []asyncItem, err error) {
	if a.cfg.result != nil {
		for _, it := range batch {
			a.cfg.result(Result{ID: it.dm.UUID, Event: it.ev, Err: err})
		}
	}
	a.mu.Lock()
	if err != nil {
		if a.failed == 0 {
			a.first = err
		}
		a.failed += len(batch)
	}
	a.pending -= len(batch)
	if a.pending == 0 {
		close(a.idle)
	}
	a.mu.Unlock()
	for range batch {
		<-a.sem
	}
}

// Flush waits until every event queued so far has been confirmed or has
// failed, or ctx is done. It returns a *FailedError if events failed since
// the previous Flush (and resets that count), ctx's error if it ended
// first.
func (a *Async) Flush(ctx context.Context) error {
	a.mu.Lock()
	idle := a.idle
	a.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
		return fmt.Errorf("publisher: flush: %w", ctx.Err())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failed == 0 {
		return nil
	}
	err := &FailedError{Failed: a.failed, First: a.first}
	a.failed, a.first = 0, nil
	return err
}

// Close stops accepting events (Publish returns ErrClosed), flushes until
// ctx is done — then the batches still in flight are cancelled and their
// events fail (reported like any failure) — and stops the senders. It
// returns what Flush returns. Close is idempotent; later calls return nil.
func (a *Async) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	for _, q := range a.qs {
		close(q)
	}
	a.mu.Unlock()
	err := a.Flush(ctx)
	if ctx.Err() != nil {
		a.cancel() // fail what is still being sent
	}
	a.wg.Wait()
	a.cancel()
	if ctx.Err() != nil {
		// What failed while we gave up is counted too.
		err = errors.Join(err, a.Flush(context.Background()))
	}
	return err
}

func typeName(ev events.Event) string {
	if ev == nil {
		return "<nil>"
	}
	return ev.EventType()
}
