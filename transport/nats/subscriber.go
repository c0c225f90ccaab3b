package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

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

// Subscribe starts consuming the events whose routing key matches topic, a
// pattern ('*' one segment, '#' zero or more; the first segment, the kind,
// must be concrete). It pulls from the durable consumer of (group,
// pattern) on the kind's stream, creating the stream and the consumer
// (per WithStart) if needed; see filterFor for how the pattern maps to
// the consumer's filter subject, and where it is matched in-process
// (messages that do not match are acked without being delivered).
//
// The returned channel is closed when ctx is done, the Subscriber or the
// Transport is closed. Messages of one "partitionkey" are delivered one at
// a time, in stream order; up to WithConcurrency messages of different
// keys are out at once.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := events.ValidatePattern(topic); err != nil {
		return nil, fmt.Errorf("nats: subscribe: %w", err)
	}
	if s.isClosed() {
		return nil, ErrClosed
	}
	sub := newSubscription(ctx, s.t, s.group, topic)
	cons, err := sub.ensureConsumer(ctx)
	if err != nil {
		sub.abort()
		return nil, fmt.Errorf("nats: subscribe %s: %w", topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sub.abort()
		return nil, ErrClosed
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()

	sub.start(cons)
	go func() {
		<-sub.done
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()
	return sub.out, nil
}

// SubscribeInitialize creates the stream and the durable consumer of topic
// (per WithStart) without consuming, so that events published from now on
// are kept for the group. It implements message.SubscribeInitializer.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	if err := events.ValidatePattern(topic); err != nil {
		return fmt.Errorf("nats: subscribe initialize: %w", err)
	}
	if s.isClosed() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeoutWithoutCtx)
	defer cancel()
	sub := newSubscription(ctx, s.t, s.group, topic)
	defer sub.abort()
	if _, err := sub.ensureConsumer(ctx); err != nil {
		return fmt.Errorf("nats: subscribe initialize %s: %w", topic, err)
	}
	return nil
}

// Close stops every subscription of s, waiting up to WithCloseTimeout for
// messages already handed out to be acked or nacked; the rest are given
// back to JetStream. It returns nil even then, as Watermill's router
// expects. It is idempotent.
func (s *Subscriber) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.closeTimeout)
	defer cancel()
	_ = s.close(ctx)
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

// ensureConsumer creates the stream and the durable consumer, or updates
// the consumer's settings; an existing consumer keeps its start position.
func (s *subscription) ensureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	return s.ensureConsumerFrom(ctx, s.t.cfg.start.policy())
}

// ensureConsumerFrom is ensureConsumer with the deliver policy for a
// consumer that has to be created.
func (s *subscription) ensureConsumerFrom(ctx context.Context, policy jetstream.DeliverPolicy) (jetstream.Consumer, error) {
	t := s.t
	if err := t.ensureStream(ctx, s.kind); err != nil {
		return nil, err
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       s.consumer,
		Description:   fmt.Sprintf("tradebus group %s pattern %s", s.group, s.pattern),
		DeliverPolicy: policy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.cfg.ackWait,
		MaxDeliver:    t.cfg.maxDeliver,
		MaxAckPending: t.cfg.maxAckPending,
		FilterSubject: s.filter,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
	cons, err := t.js.Consumer(ctx, s.stream, s.consumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = t.js.CreateConsumer(ctx, s.stream, cfg)
		if !errors.Is(err, jetstream.ErrConsumerExists) {
			break
		}
		// Created by another member meanwhile: update it instead.
		if cons, err = t.js.Consumer(ctx, s.stream, s.consumer); err != nil {
			break
		}
		fallthrough
	case err == nil:
		info := cons.CachedInfo()
		if info.Config.AckWait == cfg.AckWait && info.Config.MaxDeliver == cfg.MaxDeliver &&
			info.Config.MaxAckPending == cfg.MaxAckPending && info.Config.FilterSubject == cfg.FilterSubject {
			break
		}
		cfg.DeliverPolicy = info.Config.DeliverPolicy
		cfg.OptStartSeq = info.Config.OptStartSeq
		cfg.OptStartTime = info.Config.OptStartTime
		cons, err = t.js.UpdateConsumer(ctx, s.stream, cfg)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			t.forgetStream(s.kind)
		}
		return nil, fmt.Errorf("consumer %s on stream %s: %w", s.consumer, s.stream, err)
	}
	return cons, nil
}
