package publisher

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	DefaultSenders     = 16
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

// WithSenders sets how many batches may be sent at once, each by its own
// sender goroutine. A batch holds the queued events of partition keys that
// have no batch being sent, so each key keeps its order: a key's next
// events wait until its last batch was confirmed or failed — on a
// transport that pipelines, only until it was handed to the connection:
// there a sender goes on to its next batch at once, and a goroutine of its
// own waits for the confirms (so more batches than senders may await
// their confirms; MaxInFlight still bounds the events). 1 to 64; default
// 16.
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
// sender goroutine, possibly on several at once; the results of one
// partition key come in publish order. Keep it short: the next batch of
// the keys whose results it is reporting waits for it. Default: none
// (failures are still counted for Flush).
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
// pipelined batches, up to WithSenders batches in flight at once, and
// report each event's outcome.
//
// Order: a partition key is in at most one batch being sent at a time. On
// a transport that pipelines (RabbitMQ, NATS JetStream: the transport
// stores a batch behind the batches handed to the connection before it),
// a key's next events go into a batch as soon as its last batch is handed
// to the connection, without waiting for the broker's confirm: a quiet
// key's event waits for no earlier confirm. On the others, the events of a
// key whose batch awaits its confirm stay queued and go, in publish order,
// into a batch sent once that one is confirmed or has failed; batches of
// other keys are sent meanwhile. Within a batch the transport keeps each
// key's order, so the broker stores a key's events in publish order (a
// failed event leaves a gap, never a reordering).
//
// Nothing confirmed is lost; nothing fails silently: every
// failure goes to the result func and is counted for Flush. Async does not
// retry: a failed event is the caller's to republish (with dedup
// downstream, republishing the same event is harmless).
//
// An Async is safe for concurrent use. Its zero value is not usable; call
// NewAsync, and Close it.
type Async struct {
	p   *Publisher
	cfg asyncConfig
	sem chan struct{} // one token per event in flight
	wg  sync.WaitGroup

	ctx    context.Context // cancelled when Close gives up
	cancel context.CancelFunc

	mu      sync.Mutex
	work    *sync.Cond // a key became ready, or Close started
	closed  bool
	pending int           // events queued or in flight
	idle    chan struct{} // closed while pending == 0
	failed  int
	first   error

	keys  map[string]*keyQueue // the keys with events queued or in flight
	ready keyRing              // keys with events queued and no batch being written
	// lastTurn is closed once the results of the last batch written were
	// reported (with a result func; nil: none yet).
	lastTurn chan struct{}
	queued   int         // events queued and in no batch yet
	spare    []*keyQueue // emptied keyQueues, for reuse
}

type asyncItem struct {
	dm driver.Message
	ev events.Event
}

// keyQueue holds one partition key's events not yet sent, in publish
// order, and whether a batch holding the key is in flight.
type keyQueue struct {
	key   string
	items []asyncItem // queued: items[head:]
	head  int
	busy  bool // a batch with this key's events is being sent (pipelined: written)
	ready bool // in Async.ready
}

// keyRing is a FIFO of keys.
type keyRing struct {
	buf        []*keyQueue
	head, size int
}

func (r *keyRing) push(k *keyQueue) {
	if r.size == len(r.buf) {
		buf := make([]*keyQueue, max(8, 2*len(r.buf)))
		for i := range r.size {
			buf[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = k
	r.size++
}

func (r *keyRing) pop() *keyQueue {
	k := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return k
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
		sem:  make(chan struct{}, cfg.maxInFlight),
		idle: make(chan struct{}),
		keys: make(map[string]*keyQueue),
	}
	a.work = sync.NewCond(&a.mu)
	close(a.idle)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for range cfg.senders {
		a.wg.Add(1)
		go a.send()
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
	ids := newIDGen(len(evs))
	for i, ev := range evs {
		if err := a.p.outgoing(ctx, ev, ids, nil, &items[i].dm); err != nil {
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
		a.queue(it)
		a.mu.Unlock()
	}
	return nil
}

// queue appends it to its key's queue; a.mu is held.
func (a *Async) queue(it asyncItem) {
	k := a.keys[it.dm.PartitionKey]
	if k == nil {
		if n := len(a.spare); n > 0 {
			k, a.spare = a.spare[n-1], a.spare[:n-1]
		} else {
			k = &keyQueue{}
		}
		k.key = it.dm.PartitionKey
		a.keys[k.key] = k
	}
	k.items = append(k.items, it)
	a.queued++
	if !k.busy && !k.ready {
		k.ready = true
		a.ready.push(k)
		a.work.Signal()
	}
}

// send is one sender: it takes the queued events of keys with no batch
// being sent (up to the batch size), sends them as one batch and reports
// every event's outcome, until Close started and nothing is queued. On a
// transport that pipelines, the sender goes on to the next batch once one
// is written, and a confirmer goroutine of its own waits for the confirms
// and reports, in write order (at most maxUnconfirmed batches behind).
func (a *Async) send() {
	defer a.wg.Done()
	batch := make([]asyncItem, 0, a.cfg.batch)
	var keys []*keyQueue
	var unconfirmed chan written // started with the first pipelined batch
	defer func() {
		if unconfirmed != nil {
			close(unconfirmed)
		}
	}()
	for {
		a.mu.Lock()
		for a.ready.size == 0 && !(a.closed && a.queued == 0) {
			a.work.Wait()
		}
		if a.ready.size == 0 {
			a.mu.Unlock()
			return
		}
		batch, keys = a.take(batch[:0], keys[:0])
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(a.ctx, a.cfg.sendTimeout)
		wait, pipelined, err := a.write(ctx, batch)
		// Handed to the broker connection: the keys' next events may go
		// in the next batch now (the transport stores them behind these).
		w := written{wait: wait, cancel: cancel, err: err}
		w.prev, w.turn = a.release(keys)
		clear(keys)
		if pipelined && err == nil {
			if unconfirmed == nil {
				unconfirmed = make(chan written, maxUnconfirmed)
				a.wg.Add(1)
				go a.confirm(unconfirmed)
			}
			w.batch = slices.Clone(batch)
			clear(batch)
			unconfirmed <- w
			continue
		}
		w.batch = batch
		a.settle(w)
		clear(batch)
	}
}

// maxUnconfirmed bounds the batches a sender has written whose confirms
// its confirmer has yet to wait for.
const maxUnconfirmed = 64

// written is a batch handed to the transport.
type written struct {
	batch  []asyncItem
	wait   func() error // nil when err is set
	cancel context.CancelFunc
	err    error
	prev   <-chan struct{}
	turn   chan struct{}
}

// confirm settles a sender's pipelined batches in write order.
func (a *Async) confirm(unconfirmed <-chan written) {
	defer a.wg.Done()
	for w := range unconfirmed {
		a.settle(w)
	}
}

// settle waits for w's confirms and reports its outcome, after the results
// of the batch written before it.
func (a *Async) settle(w written) {
	err := w.err
	if err == nil {
		err = w.wait()
	}
	w.cancel()
	if w.prev != nil {
		<-w.prev // the results of a key come in publish order
	}
	a.done(w.batch, err)
	if w.turn != nil {
		close(w.turn)
	}
}

// take moves the queued events of ready keys, oldest ready first, into
// batch (up to the batch size) and marks those keys busy; a.mu is held.
func (a *Async) take(batch []asyncItem, keys []*keyQueue) ([]asyncItem, []*keyQueue) {
	for a.ready.size > 0 && len(batch) < a.cfg.batch {
		k := a.ready.pop()
		k.ready, k.busy = false, true
		n := min(len(k.items)-k.head, a.cfg.batch-len(batch))
		batch = append(batch, k.items[k.head:k.head+n]...)
		clear(k.items[k.head : k.head+n])
		k.head += n
		if k.head == len(k.items) {
			k.items, k.head = k.items[:0], 0
		}
		a.queued -= n
		keys = append(keys, k)
	}
	if a.ready.size > 0 {
		a.work.Signal() // more than one batch's worth is ready
	} else if a.closed && a.queued == 0 {
		a.work.Broadcast() // the idle senders may stop
	}
	return batch, keys
}

// write sends one batch: pipelined on a tradebus transport whose driver
// pipelines (it returns once the batch is handed to the broker connection,
// pipelined true and wait waiting for the confirms); otherwise directly or
// as Watermill messages, returning once the batch is confirmed (wait
// returning nil).
func (a *Async) write(ctx context.Context, batch []asyncItem) (wait func() error, pipelined bool, err error) {
	if ps, ok := a.p.pub.(pipelinedSender); ok {
		dms := make([]driver.Message, len(batch))
		for i := range batch {
			dms[i] = batch[i].dm
		}
		wait, err := ps.SendMessagesPipelined(ctx, dms)
		if err != nil {
			return nil, false, fmt.Errorf("publisher: publish %d events: %w", len(dms), err)
		}
		if wait == nil {
			return noWait, false, nil // not pipelined: sent and confirmed
		}
		return func() error {
			if err := wait(); err != nil {
				return fmt.Errorf("publisher: publish %d events: %w", len(dms), err)
			}
			return nil
		}, true, nil
	}
	if err := a.sendBatch(ctx, batch); err != nil {
		return nil, false, err
	}
	return noWait, false, nil
}

func noWait() error { return nil }

// pipelinedSender is what a tradebus transport's publisher offers to keep
// several batches of a partition key in flight in order
// (*transport.Publisher has it).
type pipelinedSender interface {
	SendMessagesPipelined(ctx context.Context, msgs []driver.Message) (wait func() error, err error)
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

// release makes the keys of a batch just written (or failed) ready again
// if they have events queued. With a result func it also returns the turn
// of the batch's results: prev is closed once the results of the batch
// written before it were reported, turn is to be closed once this batch's
// were (results of a key whose batches are in flight at once come in
// publish order).
func (a *Async) release(keys []*keyQueue) (prev <-chan struct{}, turn chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.result != nil {
		turn = make(chan struct{})
		prev, a.lastTurn = a.lastTurn, turn
	}
	for _, k := range keys {
		k.busy = false
		switch {
		case k.head < len(k.items):
			k.ready = true
			a.ready.push(k)
			a.work.Signal()
		case len(a.spare) < 64 && cap(k.items) <= 1024:
			delete(a.keys, k.key)
			k.key = ""
			a.spare = append(a.spare, k)
		default:
			delete(a.keys, k.key)
		}
	}
	return prev, turn
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
	a.work.Broadcast()
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
