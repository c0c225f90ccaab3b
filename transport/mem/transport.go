package mem

import (
	"context"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// Transport is an in-process broker. It is safe for concurrent use. The
// zero value is not usable; call New or Open.
type Transport struct {
	cfg config
	pub *Publisher

	// drainCtx is cancelled when Close starts: no new deliveries begin.
	drainCtx context.Context
	drain    context.CancelFunc
	// stopCtx is cancelled when Close stops draining: every member and
	// every waiting delivery ends.
	stopCtx context.Context
	stop    context.CancelFunc

	mu     sync.RWMutex
	closed bool
	queues map[queueID]*queue
	routes map[string][]*queue // routing key -> matching queues (cache)
	wg     sync.WaitGroup      // dispatchers and members

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
}

// New returns an in-process Transport configured by opts.
func New(opts ...Option) (*Transport, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Transport{
		cfg:       cfg,
		queues:    make(map[queueID]*queue),
		routes:    make(map[string][]*queue),
		closeDone: make(chan struct{}),
	}
	t.drainCtx, t.drain = context.WithCancel(context.Background())
	t.stopCtx, t.stop = context.WithCancel(context.Background())
	t.pub = &Publisher{t: t}
	return t, nil
}

// Publisher returns the transport's publisher; the Watermill topic is the
// routing key. Closing it is a no-op: Close the Transport instead.
func (t *Transport) Publisher() message.Publisher { return t.pub }

// Subscriber returns a subscriber consuming as consumer group group (a
// non-empty name). Every Subscribe call on it with pattern p is a member of
// the subscription queue (group, p); members of one queue share its
// messages, and every queue receives every matching message once.
func (t *Transport) Subscriber(group string) (message.Subscriber, error) {
	return t.NewSubscriber(group)
}

// NewSubscriber is Subscriber returning the concrete type.
func (t *Transport) NewSubscriber(group string) (*Subscriber, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: empty name", ErrInvalidGroup)
	}
	t.mu.RLock()
	closed := t.closed
	t.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	return &Subscriber{t: t, group: group, members: make(map[*member]struct{})}, nil
}

// Close stops accepting publishes and subscriptions, discards messages not
// yet delivered, and waits until every delivered message is acked or nacked
// (the in-flight handlers are drained) or ctx is done. Then it closes every
// output channel and stops every goroutine the Transport started, and
// returns. If ctx ended before the drain finished, the error wraps
// ctx.Err(). Close is idempotent: later calls wait until the first has
// finished (or their own ctx is done) and then return nil.
func (t *Transport) Close(ctx context.Context) error {
	first := false
	t.closeOnce.Do(func() { first = true })
	if first {
		t.close(ctx)
		return t.closeErr
	}
	select {
	case <-t.closeDone:
		return nil
	case <-ctx.Done():
		// The first call (bounded by its own ctx) still finishes the job.
		return fmt.Errorf("mem: close: %w", ctx.Err())
	}
}

func (t *Transport) close(ctx context.Context) {
	t.mu.Lock()
	t.closed = true
	qs := make([]*queue, 0, len(t.queues))
	for _, q := range t.queues {
		qs = append(qs, q)
	}
	t.mu.Unlock()

	t.drain()
	var err error
	for _, q := range qs {
		if werr := q.pool.Wait(ctx); werr != nil {
			err = fmt.Errorf("mem: close: in-flight deliveries not drained: %w", werr)
			break
		}
	}
	t.stop()
	for _, q := range qs {
		// Every delivery returns promptly once stopCtx is done.
		_ = q.pool.Wait(context.Background())
	}
	t.wg.Wait()
	t.closeErr = err
	close(t.closeDone)
}

func (t *Transport) isClosing() bool { return t.drainCtx.Err() != nil }

// queue returns the subscription queue (group, pattern), creating it (and
// its dispatcher) on first use.
func (t *Transport) queue(group, pattern string) (*queue, error) {
	id := queueID{group: group, pattern: pattern}
	t.mu.RLock()
	q, ok := t.queues[id]
	closed := t.closed
	t.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if ok {
		return q, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if q, ok := t.queues[id]; ok {
		return q, nil
	}
	q = newQueue(t, id)
	t.queues[id] = q
	clear(t.routes)
	t.wg.Add(1)
	go q.dispatch()
	return q, nil
}

// addMember registers a new member of q. It holds t.mu so that no member
// is added once Close has started waiting.
func (t *Transport) addMember(ctx context.Context, q *queue) (*member, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	t.wg.Add(1)
	return newMember(ctx, q), nil
}

// route returns the queues whose pattern matches key.
func (t *Transport) route(key string) []*queue {
	t.mu.RLock()
	qs, ok := t.routes[key]
	t.mu.RUnlock()
	if ok {
		return qs
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if qs, ok := t.routes[key]; ok {
		return qs
	}
	qs = nil
	for _, q := range t.queues {
		if events.MatchPattern(q.id.pattern, key) {
			qs = append(qs, q)
		}
	}
	if len(t.routes) >= maxRouteCacheEntries {
		clear(t.routes)
	}
	t.routes[key] = qs
	return qs
}
