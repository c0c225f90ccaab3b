package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/closeall"
)

// Subscriber consumes as one tradebus consumer group. It is safe for
// concurrent use. Obtain it from Transport.Subscriber or NewSubscriber.
type Subscriber struct {
	t     *Transport
	group string

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
}

func newSubscriber(t *Transport, group string) *Subscriber {
	return &Subscriber{t: t, group: group, subs: make(map[*subscription]struct{})}
}

// Subscribe starts consuming the events whose routing key matches topic, a
// pattern ('*' one segment, '#' zero or more; the first segment, the kind,
// must be concrete). It joins Kafka consumer group GroupID(group, topic)
// on the kind's topic (creating the topic unless WithoutTopicCreation) and
// returns once this member has joined the group (at most
// WithJoinTimeout); a new member may get its partitions a rebalance round
// later. A group that has never committed starts at the oldest
// retained record. Records whose routing key does not match the pattern
// are skipped and count as handled.
//
// Messages of one "partitionkey" are delivered one at a time in partition
// order; up to WithConcurrency messages of different keys are out at once.
// A nacked message is delivered again after a backoff, before any later
// message of its key. Offsets are committed only up to the first message
// not yet acked in each partition.
//
// The returned channel is closed when ctx is done (messages in flight are
// abandoned, uncommitted: the group gets them again), when the Subscriber
// is closed (in-flight messages get WithCloseTimeout to be acked) or when
// the Transport is closed. Each message's context is derived from ctx.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := events.ValidatePattern(topic); err != nil {
		return nil, fmt.Errorf("kafka: subscribe: %w", err)
	}
	t := s.t
	ktopic, err := t.topicFor(topic)
	if err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, ErrClosed
	}
	joinCtx, cancel := context.WithTimeoutCause(ctx, t.cfg.joinTimeout, ErrJoinTimeout)
	defer cancel()
	if err := t.ensureTopic(joinCtx, ktopic); err != nil {
		return nil, fmt.Errorf("kafka: subscribe %q: %w", topic, joinErr(joinCtx, err))
	}
	sub, err := newSubscription(ctx, s, topic, ktopic)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = sub.stop(context.Background(), true)
		return nil, ErrClosed
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	sub.start()

	select {
	case <-sub.ready:
		return sub.out, nil
	case <-sub.done:
		return nil, ErrClosed
	case <-joinCtx.Done():
		_ = sub.stop(context.Background(), true)
		return nil, fmt.Errorf("kafka: subscribe %q as %q: %w", topic, sub.groupID, joinErr(joinCtx, joinCtx.Err()))
	}
}

// joinErr prefers ErrJoinTimeout over a bare deadline error.
func joinErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrJoinTimeout) {
		return ErrJoinTimeout
	}
	return err
}

// SubscribeInitialize creates the kind's topic of pattern topic (unless
// WithoutTopicCreation) without consuming. A consumer group that has never
// committed reads the topic from its oldest record, so events published
// from now on reach every group that subscribes later. It implements
// message.SubscribeInitializer.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	if err := events.ValidatePattern(topic); err != nil {
		return fmt.Errorf("kafka: subscribe initialize: %w", err)
	}
	ktopic, err := s.t.topicFor(topic)
	if err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.joinTimeout)
	defer cancel()
	if err := s.t.ensureTopic(ctx, ktopic); err != nil {
		return fmt.Errorf("kafka: subscribe initialize %q: %w", topic, err)
	}
	return nil
}

// Close stops every subscription of s: nothing new is handed out, messages
// already handed to the handler get WithCloseTimeout to be acked or
// nacked, acked offsets are committed and the members leave their groups.
// Messages not acked in time stay uncommitted and go to the group's other
// (or next) members. Close returns nil; it is idempotent.
func (s *Subscriber) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.closeTimeout)
	defer cancel()
	if err := s.close(ctx); err != nil {
		s.t.cfg.logger.Info("kafka: subscriber closed before its messages in flight were acked; they stay uncommitted",
			watermill.LogFields{"group": s.group, "error": err.Error()})
	}
	return nil
}

func (s *Subscriber) close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	subs := make([]*subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()

	err := closeall.Each(ctx, subs, func(sub *subscription, ctx context.Context) error {
		return sub.stop(ctx, false)
	})
	s.t.forget(s)
	return err
}

func (s *Subscriber) remove(sub *subscription) {
	s.mu.Lock()
	delete(s.subs, sub)
	s.mu.Unlock()
}

func (s *Subscriber) isClosed() bool {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return true
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.t.closed
}
