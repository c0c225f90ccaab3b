package mem

import (
	"context"
	"fmt"
	"sync"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Driver is the in-process broker under a mem Transport: subscription
// queues (one per consumer group and pattern) that Publish routes
// messages into. It is safe for concurrent use. Get one from NewDriver, or
// a whole Transport from New or Open.
type Driver struct {
	cfg  config
	hist *history // nil unless WithHistory

	mu     sync.RWMutex
	closed bool
	done   chan struct{}       // closed by Close: every wait ends
	queues map[queueID]*queue  // every queue, by group and pattern
	routes map[string][]*queue // routing key -> matching queues (cache)
}

// Compile-time check.
var _ driver.Driver = (*Driver)(nil)

// New returns an in-process Transport configured by opts.
func New(opts ...Option) (*transport.Portable, error) {
	d, core, err := newDriver(opts)
	if err != nil {
		return nil, err
	}
	return transport.New(d, core...)
}

// NewDriver returns the in-process broker alone, for transport.New. Options
// that configure the core (WithConcurrency, WithRedeliveryBackoff) are
// rejected here: pass the transport's options to transport.New instead.
func NewDriver(opts ...Option) (*Driver, error) {
	d, core, err := newDriver(opts)
	if err != nil {
		return nil, err
	}
	if len(core) > 0 {
		return nil, fmt.Errorf("%w: core options (concurrency, redelivery backoff) go to transport.New, not NewDriver", ErrInvalidOption)
	}
	return d, nil
}

func newDriver(opts []Option) (*Driver, []transport.Option, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, nil, err
		}
	}
	return &Driver{
		cfg:    cfg,
		hist:   newHistory(cfg.history),
		done:   make(chan struct{}),
		queues: make(map[queueID]*queue),
		routes: make(map[string][]*queue),
	}, cfg.core, nil
}

// Capabilities implements driver.Driver. KeepsHistory is false also with
// WithHistory: a new group still receives only what is published after
// it was created; the history is for Read and Follow.
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Name:               Scheme,
		MaxMessageBytes:    d.cfg.maxMessage,
		MaxHeaderBytes:     d.cfg.maxMetadata,
		DurableGroups:      true, // for the life of the Driver
		SharedGroups:       true,
		OrderAcrossMembers: true,
	}
}

// Topic implements driver.Driver.
func (d *Driver) Topic() driver.Topic { return (*topic)(d) }

// Prepare creates the subscription queue (group, pattern) without
// subscribing: it receives every message published from now on.
func (d *Driver) Prepare(_ context.Context, group, pattern string) error {
	_, err := d.queue(group, pattern)
	return err
}

// Subscribe joins the subscription queue (group, pattern), creating it on
// first use.
func (d *Driver) Subscribe(_ context.Context, group, pattern string) (driver.Subscription, error) {
	for {
		q, err := d.queue(group, pattern)
		if err != nil {
			return nil, err
		}
		if m := q.join(); m != nil {
			return m, nil
		}
		// DeleteGroup removed q in between: join the new queue.
	}
}

// Close discards every queued message and ends every wait. The core has
// closed every subscription first.
func (d *Driver) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.done)
		clear(d.queues)
		clear(d.routes)
		if d.hist != nil {
			d.hist.close()
		}
	}
	return nil
}

// queue returns the subscription queue (group, pattern), creating it on
// first use.
func (d *Driver) queue(group, pattern string) (*queue, error) {
	id := queueID{group: group, pattern: pattern}
	d.mu.RLock()
	q, ok := d.queues[id]
	closed := d.closed
	d.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if ok {
		return q, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if q, ok := d.queues[id]; ok {
		return q, nil
	}
	q = newQueue(d, id)
	d.queues[id] = q
	clear(d.routes)
	return q, nil
}

// route returns the queues whose pattern matches key.
func (d *Driver) route(key string) ([]*queue, error) {
	d.mu.RLock()
	qs, ok := d.routes[key]
	closed := d.closed
	d.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if ok {
		return qs, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if qs, ok := d.routes[key]; ok {
		return qs, nil
	}
	qs = nil
	for _, q := range d.queues {
		if events.MatchPattern(q.id.pattern, key) {
			qs = append(qs, q)
		}
	}
	if len(d.routes) >= maxRouteCacheEntries {
		clear(d.routes)
	}
	d.routes[key] = qs
	return qs, nil
}

// topic is the Driver's driver.Topic.
type topic Driver

// SendBatch puts each message into every queue whose pattern matches its
// key, in order, and returns once every copy is queued. A full queue makes
// it wait until ctx is done (OverflowBlock) or fail at once with a
// *BufferFullError (OverflowFail); the messages before the failing one
// stay queued, and the error is a *driver.SendError naming the rest.
// With history (WithHistory) each message is stored in its kind's stream
// first, whether or not a queue matches it: a message reported failed
// may be in the history, as it may be in some of the queues.
//
// The queues keep one copy of each message (the caller may reuse msgs),
// the history's when it keeps one; every delivery gets its own copy of
// payload and metadata (the first delivery of a message whose metadata
// was handed over gets that map).
func (tp *topic) SendBatch(ctx context.Context, msgs []*driver.Message) error {
	d := (*Driver)(tp)
	var a arena
	a.forSend(msgs) // with history only entries are carved from it
	for i, dm := range msgs {
		qs, err := d.route(dm.Key)
		if err != nil {
			return failedFrom(msgs, i, err)
		}
		var flat []string
		var payload []byte
		var stream, offset string
		switch {
		case d.hist != nil:
			st, kind, err := d.hist.store(dm)
			if err != nil {
				return failedFrom(msgs, i, err)
			}
			flat, payload, stream, offset = st.metadata, st.payload, kind, st.offset
		case len(qs) == 0:
			continue
		default:
			// One copy, shared by the queues: the caller may reuse msgs.
			// The metadata is kept flat; each delivery builds its own map
			// from it.
			flat, payload = a.flat(dm.Metadata), a.bytes(dm.Payload)
		}
		for _, q := range qs {
			e := a.entry()
			*e = entry{uuid: dm.UUID, key: dm.Key, pkey: dm.PartitionKey, metadata: flat, payload: payload,
				stream: stream, offset: offset}
			if dm.MetadataHandedOver && len(qs) == 1 {
				// The first delivery gets the sender's map itself (one
				// copy fewer); later ones a copy of flat. Only with one
				// queue: a message stored in some queues and not others
				// is reported failed, and a sender may read it again.
				e.md = dm.Metadata
			}
			if err := q.push(ctx, e); err != nil {
				return failedFrom(msgs, i, err)
			}
		}
	}
	return nil
}

// failedFrom reports messages i.. of msgs as not stored.
func failedFrom(msgs []*driver.Message, i int, err error) error {
	if i == 0 {
		return err
	}
	failed := make(map[int]error, len(msgs)-i)
	for j := i; j < len(msgs); j++ {
		failed[j] = err
	}
	return &driver.SendError{Failed: failed}
}
