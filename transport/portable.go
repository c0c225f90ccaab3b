package transport

import (
	"go.opentelemetry.io/otel/metric"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/closeall"
)

// Portable is a Transport on a driver: the portable core that every
// driver shares. It turns a driver.Driver, which only moves batches, into
// a Watermill message.Publisher and message.Subscribers, and does once what
// every broker needs: validation of keys, patterns and groups, size checks
// against the driver's limits, pipelined publishing, key-ordered dispatch
// of received batches to a bounded set of workers, batched acks, the
// redelivery of nacked messages in key order with backoff, one Close, and
// logging.
//
// A Portable is safe for concurrent use. Its zero value is not usable;
// call New or Open.
type Portable struct {
	d     driver.Driver
	topic driver.Topic
	caps  driver.Capabilities
	cfg   config
	log   *slog.Logger
	pub   *Publisher
	obs   *observer // nil: not instrumented

	lagGauge metric.Registration // nil: no meter or no Lag

	mu        sync.Mutex
	closed    bool
	consumers map[*consumer]struct{}
	sending   sync.WaitGroup // SendBatch calls running

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
}

// Compile-time checks.
var (
	_ Transport                           = (*Portable)(nil)
	_ message.Publisher                   = (*Publisher)(nil)
	_ message.Subscriber                  = (*Subscriber)(nil)
	_ message.SubscribeInitializer        = (*Subscriber)(nil)
	_ BatchPublisher                      = (*Publisher)(nil)
	_ interface{ Driver() driver.Driver } = (*Portable)(nil)
)

// New returns the Transport running on d, configured by opts. The
// Transport owns d from then on: its Close closes d.
func New(d driver.Driver, opts ...Option) (*Portable, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil driver", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	caps := d.Capabilities()
	if caps.Name == "" {
		caps.Name = "driver"
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default()
	}
	t := &Portable{
		d:         d,
		topic:     d.Topic(),
		caps:      caps,
		cfg:       cfg,
		log:       log.With("transport", caps.Name),
		consumers: make(map[*consumer]struct{}),
		closeDone: make(chan struct{}),
	}
	t.pub = &Publisher{t: t}
	obs, err := newObserver(caps.Name, cfg.tracer, cfg.meter)
	if err != nil {
		return nil, fmt.Errorf("%s: instruments: %w", caps.Name, err)
	}
	t.obs = obs
	if err := t.registerLagGauge(); err != nil {
		return nil, fmt.Errorf("%s: instruments: %w", caps.Name, err)
	}
	return t, nil
}

// Driver returns the driver under t, for driver-specific operations (a
// driver package documents what its concrete type offers).
func (t *Portable) Driver() driver.Driver { return t.d }

// Capabilities returns the driver's limits and guarantees.
func (t *Portable) Capabilities() driver.Capabilities { return t.caps }

// Publisher returns t's publisher; the Watermill topic is the routing key.
// Closing it is a no-op: Close the Transport instead.
func (t *Portable) Publisher() message.Publisher { return t.pub }

// Subscriber returns a subscriber consuming as consumer group group. An
// invalid name (see ValidateGroup) gives a nil Subscriber and an error
// wrapping ErrInvalidGroup; a closed Transport gives ErrClosed.
func (t *Portable) Subscriber(group string) (message.Subscriber, error) {
	s, err := t.NewSubscriber(group)
	if err != nil {
		return nil, err // never a non-nil interface holding a nil pointer
	}
	return s, nil
}

// NewSubscriber is Subscriber returning the concrete type.
func (t *Portable) NewSubscriber(group string) (*Subscriber, error) {
	if err := ValidateGroup(group); err != nil {
		return nil, err
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return &Subscriber{t: t, group: group, consumers: make(map[*consumer]struct{})}, nil
}

// Close stops accepting publishes and subscriptions, stops every
// subscription — each stops receiving, gives back to the broker what it
// had not handed out yet, and waits until the handlers ack or nack what
// they have (drain), or ctx is done (abort: what is left unacked is given
// back) — waits for publishes in progress, and closes the driver. It
// returns an error wrapping ctx.Err() if ctx ended before the drain
// finished.
//
// Close is idempotent: a later call waits until the first has finished, or
// its own ctx is done, and then returns nil (or ctx's error).
func (t *Portable) Close(ctx context.Context) error {
	first := false
	t.closeOnce.Do(func() { first = true })
	if !first {
		select {
		case <-t.closeDone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%s: close: %w", t.caps.Name, ctx.Err())
		}
	}
	defer close(t.closeDone)
	if t.lagGauge != nil {
		_ = t.lagGauge.Unregister()
	}
	t.mu.Lock()
	t.closed = true
	cs := make([]*consumer, 0, len(t.consumers))
	for c := range t.consumers {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	err := closeall.Each(ctx, cs, (*consumer).stop)
	sent := make(chan struct{})
	go func() { t.sending.Wait(); close(sent) }()
	select {
	case <-sent:
	case <-ctx.Done():
		// Closing the driver fails the sends still in progress.
		err = errors.Join(err, fmt.Errorf("%s: close: publishes still in progress: %w", t.caps.Name, ctx.Err()))
	}
	if derr := t.d.Close(ctx); derr != nil {
		err = errors.Join(err, fmt.Errorf("%s: close driver: %w", t.caps.Name, derr))
	}
	t.closeErr = err
	return err
}

// addConsumer registers c unless t is closed.
func (t *Portable) addConsumer(c *consumer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.consumers[c] = struct{}{}
	return nil
}

func (t *Portable) removeConsumer(c *consumer) {
	t.mu.Lock()
	delete(t.consumers, c)
	t.mu.Unlock()
}

// beginSend counts a SendBatch call unless t is closed.
func (t *Portable) beginSend() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.sending.Add(1)
	return nil
}
