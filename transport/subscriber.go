package transport

import (
	"context"
	"errors"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/closeall"
)

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
// When ctx ends (or the Subscriber or Transport is closed) the
// subscription stops receiving, waits up to the close timeout for the
// messages out to be acked or nacked, gives everything else back to the
// broker, and closes the channel.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	c, err := s.start(ctx, topic, nil)
	if err != nil {
		return nil, err
	}
	return c.out, nil
}

// Consume runs h for every message of the group matching pattern, on the
// transport's key-ordered workers — the fast path, without a Watermill
// router's goroutine per message. h returns as a Watermill handler does:
// nil acks the message (after publishing what it produced, each to its
// "routingkey" metadata), an error nacks it (redelivered after the backoff,
// before any later message of its key). Apply HandlerMiddleware to h
// before passing it.
//
// Consume returns when ctx ends or the Subscriber or Transport is closed,
// after the drain (bounded by the close timeout); its error is non-nil only
// if the subscription could not start or the drain was cut short.
func (s *Subscriber) Consume(ctx context.Context, pattern string, h message.HandlerFunc) error {
	if h == nil {
		return ErrInvalidOption
	}
	c, err := s.start(ctx, pattern, h)
	if err != nil {
		return err
	}
	<-c.done
	return c.stopErr
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
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.closeTimeout)
	defer cancel()
	return s.t.d.Prepare(ctx, s.group, topic)
}

// Close stops every subscription of this Subscriber (as when their ctx
// ends) and waits until their channels are closed. The group's
// broker-side state stays. Messages still out when the close timeout
// passes are given back to the broker; that is logged, not returned (as
// Watermill's subscribers do). Close is idempotent.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	cs := make([]*consumer, 0, len(s.consumers))
	for c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.closeTimeout)
	defer cancel()
	err := closeall.Each(ctx, cs, (*consumer).stop)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		// Closing a subscriber whose messages are still out is not an
		// error for Watermill (pubsub/tests TestMessageCtx requires nil):
		// those messages were given back to the broker.
		s.t.log.Warn("subscriber closed with messages still in flight; they were given back to the broker",
			"group", s.group, "err", err)
		return nil
	}
	return err
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
	c := newConsumer(s, sub, pattern, h)
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
