package redisstream

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/closeall"
)

// Subscriber consumes as one consumer group. It is safe for concurrent
// use. Obtain it from Transport.Subscriber.
type Subscriber struct {
	t     *Transport
	group string

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
}

// groupName is the Redis consumer group of (group, pattern): one group per
// pattern, so that two patterns of one tradebus group on the same kind
// stream each receive every event they match.
func groupName(group, pattern string) string { return group + ":" + pattern }

// Subscribe starts consuming the events whose routing key matches topic, a
// pattern ('*' one segment, '#' zero or more; the first segment, the kind,
// must be concrete). It reads the kind's stream as consumer group
// "group:pattern", creating the group (per WithStart) and the stream if
// needed, and filters the other segments in-process: entries that do not
// match are acknowledged without being delivered.
//
// The returned channel is closed when ctx is done, the Subscriber or the
// Transport is closed. Messages of one "partitionkey" are delivered one at
// a time, in stream order; up to WithConcurrency messages of different
// keys are out at once.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := events.ValidatePattern(topic); err != nil {
		return nil, fmt.Errorf("redisstream: subscribe: %w", err)
	}
	if s.isClosed() {
		return nil, ErrClosed
	}
	t := s.t
	stream := t.Stream(topic)
	group := groupName(s.group, topic)
	if err := ensureGroup(ctx, t.client, stream, group, t.cfg.start.id()); err != nil {
		return nil, fmt.Errorf("redisstream: subscribe %s: %w", topic, err)
	}
	sub := newSubscription(ctx, t, stream, group, topic)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		t.releaseConsumer(stream, group, sub.consumer)
		return nil, ErrClosed
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()

	sub.start()
	go func() {
		<-sub.done
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()
	return sub.out, nil
}

// SubscribeInitialize creates the stream and the consumer group of topic
// (per WithStart) without consuming, so that events published from now on
// are kept for the group. It implements message.SubscribeInitializer.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	if err := events.ValidatePattern(topic); err != nil {
		return fmt.Errorf("redisstream: subscribe initialize: %w", err)
	}
	if s.isClosed() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeoutWithoutCtx)
	defer cancel()
	err := ensureGroup(ctx, s.t.client, s.t.Stream(topic), groupName(s.group, topic), s.t.cfg.start.id())
	if err != nil {
		return fmt.Errorf("redisstream: subscribe initialize %s: %w", topic, err)
	}
	return nil
}

// Close stops every subscription of s, waiting up to WithCloseTimeout for
// messages already handed out to be acked or nacked; those that are not
// stay pending and are delivered again (see Transport.Close). It returns
// nil even then, as Watermill's router expects. It is idempotent.
func (s *Subscriber) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.closeTimeout)
	defer cancel()
	_ = s.close(ctx)
	return nil
}

// close stops every subscription, draining until ctx is done; the error
// wraps ctx.Err() if some could not drain in time.
func (s *Subscriber) close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	subs := make([]*subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()

	err := closeall.Each(ctx, subs, (*subscription).stop)
	s.t.forget(s)
	return err
}

func (s *Subscriber) isClosed() bool {
	if s.t.isClosed() {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ensureGroup creates group on stream (and the stream) starting at id; an
// existing group is left as it is.
func ensureGroup(ctx context.Context, c redis.UniversalClient, stream, group, id string) error {
	err := c.XGroupCreateMkStream(ctx, stream, group, id).Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create group %q on %s: %w", group, stream, err)
	}
	return nil
}

// isNoGroup reports Redis' NOGROUP error: the stream or the group is gone
// (deleted, or Redis restarted without persistence).
func isNoGroup(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && redis.HasErrorPrefix(err, "NOGROUP")
}
