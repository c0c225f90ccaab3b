package transport

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/closeall"
)

// prepareTimeout bounds SubscribeInitialize, which has no ctx.
const prepareTimeout = 30 * time.Second

// Subscriber consumes as one consumer group. It is safe for concurrent use;
// its zero value is not usable (get it from Portable.Subscriber).
type Subscriber struct {
	t     *Portable
	group string

	mu        sync.Mutex
	closed    bool
	consumers map[*consumer]struct{}
}

// Group returns the subscriber's consumer group.
func (s *Subscriber) Group() string { return s.group }

// Subscribe subscribes the group to topic, a pattern ('*' one segment, '#'
// zero or more; the first segment concrete), and returns the channel of its
// messages. Messages of one partition key come one at a time, in publish
// order: the next is sent only after the previous one was acked. Up to
// the transport's concurrency messages of different keys are out at once.
// A nacked message comes again after the redelivery backoff, before any
// later message of its key.
//
// When ctx ends the subscription stops at once, as Watermill subscribers
// do (its reader is gone): what it holds is given back to the broker, the
// contexts of the messages out are cancelled, and the channel is closed.
// When the Subscriber is closed it first drains (see Close); when the
// Transport is closed, until Close's ctx ends.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	c, err := s.start(ctx, topic, nil)
	if err != nil {
		return nil, err
	}
	return c.out, nil
}

// Consume starts running h for every message of the group matching
// pattern, on the transport's key-ordered workers — the fast path, without
// a Watermill router's goroutine per message — and returns once the
// subscription is established. h returns as a Watermill handler does: nil
// acks the message (after publishing what it produced, each to its
// "routingkey" metadata), an error nacks it (redelivered after the
// backoff, before any later message of its key). Apply HandlerMiddleware
// to h before passing it.
//
// The consumption runs until ctx ends or the Subscriber or Transport is
// closed; then it drains (bounded by the close timeout). wait blocks until
// it has ended and returns an error only if the drain was cut short.
func (s *Subscriber) Consume(ctx context.Context, pattern string, h message.HandlerFunc) (wait func() error, err error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOption)
	}
	c, err := s.start(ctx, pattern, h)
	if err != nil {
		return nil, err
	}
	return func() error {
		<-c.done
		return c.stopErr
	}, nil
}

// SubscribeInitialize creates the group's broker-side state for topic, so
// that messages published from now on are kept for it. It implements
// message.SubscribeInitializer.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	if err := events.ValidatePattern(topic); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	// Not the close timeout (which bounds a drain and may be short):
	// creating broker-side state under load can take seconds.
	ctx, cancel := context.WithTimeout(context.Background(), prepareTimeout)
	defer cancel()
	return s.t.d.Prepare(ctx, s.group, topic)
}

// Close stops every subscription of this Subscriber: each stops
// receiving, gives back what it had not handed out, waits up to the close
// timeout for the messages out to be acked or nacked (drain), then gives
// back what is left (their contexts are cancelled; a late ack is ignored)
// — and Close returns once all have ended. A drain cut short is logged, not
// returned (Watermill subscribers return nil there). The group's
// broker-side state stays. Close is idempotent.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	cs := make([]*consumer, 0, len(s.consumers))
	for c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	return closeall.Each(context.Background(), cs, func(c *consumer, _ context.Context) error { return c.end(true) })
}

func (s *Subscriber) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Subscriber) start(ctx context.Context, pattern string, h message.HandlerFunc) (*consumer, error) {
	if err := events.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	sub, err := s.t.d.Subscribe(ctx, s.group, pattern)
	if err != nil {
		return nil, err
	}
	c := newConsumer(ctx, s, sub, pattern, h)
	if err := s.t.addConsumer(c); err != nil {
		_ = sub.Close(context.Background())
		return nil, err
	}
	s.consumers[c] = struct{}{}
	c.run(ctx)
	return c, nil
}

func (s *Subscriber) removeConsumer(c *consumer) {
	s.mu.Lock()
	delete(s.consumers, c)
	s.mu.Unlock()
	s.t.removeConsumer(c)
}
