// Package dlqcli is the dead-letter tooling behind cmd/tradebus-dlq: init,
// list and replay of a poison queue (the topic middleware.Poison fills),
// as functions a command line — this one, or a later one that mounts it as
// a subcommand — calls with an open transport.
//
// List reads without consuming (middleware.ListPoisoned on
// transport.Browse): listing twice shows the same dead letters and the
// broker keeps them as they were. Replay republishes the matching dead
// letters to their original routing keys, each addressed to the consumer
// group that failed it (middleware.Replay), and puts the others back.
package dlqcli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/transport"
)

// DefaultGroup is the consumer group that reads poison queues.
const DefaultGroup = "dlq"

// DefaultIdle bounds how long Replay waits for a dead letter that List saw
// (another reader may have taken it meanwhile).
const DefaultIdle = 2 * time.Second

// Filter selects dead letters; a zero field selects all.
type Filter struct {
	Class  middleware.ErrorClass // permanent, transient or panic
	Type   string                // event type, e.g. tradebus.trade.v1
	Key    string                // pattern the original routing key must match, e.g. trade.*.BTCUSDT
	Reason string                // substring of the reason
	Since  time.Time             // last failure at or after
	Until  time.Time             // last failure before
}

// Validate checks the filter's class and key pattern.
func (f Filter) Validate() error {
	switch f.Class {
	case "", middleware.ClassPermanent, middleware.ClassTransient, middleware.ClassPanic:
	default:
		return fmt.Errorf("class %q: want permanent, transient or panic", f.Class)
	}
	if f.Key != "" {
		if err := events.ValidatePattern(f.Key); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	return nil
}

// Match reports whether p is a dead letter the filter selects; a message
// without poison metadata never matches.
func (f Filter) Match(p middleware.Poisoned) bool {
	switch {
	case p.Class == "",
		f.Class != "" && p.Class != f.Class,
		f.Type != "" && p.Type != f.Type,
		f.Key != "" && !events.MatchPattern(f.Key, p.RoutingKey),
		f.Reason != "" && !strings.Contains(p.Reason, f.Reason),
		!f.Since.IsZero() && p.LastFailure.Before(f.Since),
		!f.Until.IsZero() && !p.LastFailure.Before(f.Until):
		return false
	}
	return true
}

// Query names a poison queue and the dead letters of it to act on.
type Query struct {
	// Topic is the poison topic, e.g. deadletter.risk (required).
	Topic string
	// Group is the consumer group that reads it; "" means DefaultGroup.
	Group  string
	Filter Filter
	// Limit bounds how many matching dead letters are listed or
	// replayed; 0 means all.
	Limit int
	// ToGroup, for Replay: the consumer group the replayed events are
	// addressed to instead of the one each dead letter records
	// (middleware.WithReplayGroup); "" keeps the recorded one.
	ToGroup string
	// Idle, for Replay: how long to wait for a dead letter that is late
	// or gone; 0 means DefaultIdle.
	Idle time.Duration
}

func (q Query) group() string {
	if q.Group == "" {
		return DefaultGroup
	}
	return q.Group
}

func (q Query) validate() error {
	if err := events.ValidateRoutingKey(q.Topic); err != nil {
		return fmt.Errorf("topic %q: a concrete routing key is required: %w", q.Topic, err)
	}
	if err := transport.ValidateGroup(q.group()); err != nil {
		return err
	}
	if q.ToGroup != "" {
		if err := transport.ValidateGroup(q.ToGroup); err != nil {
			return fmt.Errorf("to-group: %w", err)
		}
	}
	if q.Limit < 0 || q.Idle < 0 {
		return errors.New("limit and idle must be >= 0")
	}
	return q.Filter.Validate()
}

// Init creates the reader group's subscription to the poison topic, so
// that the broker keeps dead letters from now on (run it once at
// deployment on brokers that keep messages only for existing
// subscriptions: RabbitMQ queues, NATS consumers and Redis groups created
// at "new").
func Init(tr transport.Transport, q Query) error {
	if err := q.validate(); err != nil {
		return err
	}
	sub, err := tr.Subscriber(q.group())
	if err != nil {
		return err
	}
	defer sub.Close()
	si, ok := sub.(message.SubscribeInitializer)
	if !ok {
		return fmt.Errorf("%w: this transport's subscriber cannot create a subscription without consuming", transport.ErrNotSupported)
	}
	return si.SubscribeInitialize(q.Topic)
}

// ListResult counts what List saw.
type ListResult struct {
	// Matched dead letters were passed to each (at most Limit).
	Matched int
	// DeadLetters is how many dead letters the queue holds, Other how many
	// messages without poison metadata.
	DeadLetters, Other int
}

// List calls each with every dead letter of the poison queue that matches
// q's filter (up to q.Limit), oldest first where the broker keeps an
// order, without consuming anything (middleware.ListPoisoned).
func List(ctx context.Context, tr transport.Transport, q Query, each func(middleware.Poisoned)) (ListResult, error) {
	var res ListResult
	if err := q.validate(); err != nil {
		return res, err
	}
	err := middleware.ListPoisoned(ctx, tr, q.group(), func(p middleware.Poisoned) bool {
		if p.Class == "" {
			res.Other++
			return true
		}
		res.DeadLetters++
		if q.Filter.Match(p) && (q.Limit == 0 || res.Matched < q.Limit) {
			res.Matched++
			if each != nil {
				each(p)
			}
		}
		return true
	}, middleware.WithPoisonTopic(q.Topic))
	return res, err
}

// Replay republishes the dead letters matching q (up to q.Limit) to their
// original routing keys, each addressed to the consumer group that failed
// it (or q.ToGroup), calling each before it is published; the others are
// put back on the poison topic. It first lists the queue without
// consuming, so it knows how many messages there are and returns once it
// has been through them — with nothing to replay it reads nothing; q.Idle
// only bounds the wait for one that another reader took meanwhile (and is
// the only end on a transport that cannot list).
func Replay(ctx context.Context, tr transport.Transport, q Query, each func(middleware.Poisoned)) (middleware.ReplayStats, error) {
	var st middleware.ReplayStats
	if err := q.validate(); err != nil {
		return st, err
	}
	seen := 0 // how many messages the topic holds for the group; 0: unknown
	listed, err := List(ctx, tr, q, nil)
	switch {
	case errors.Is(err, transport.ErrNotSupported):
	case err != nil:
		return st, err
	case listed.Matched == 0:
		return st, nil
	default:
		seen = listed.DeadLetters + listed.Other
	}
	idle := q.Idle
	if idle == 0 {
		idle = DefaultIdle
	}
	sub, err := tr.Subscriber(q.group())
	if err != nil {
		return st, err
	}
	defer sub.Close()
	matched := 0
	opts := []middleware.Option{
		middleware.WithPoisonTopic(q.Topic), middleware.WithReplayIdle(idle),
		middleware.WithLogger(slog.New(slog.DiscardHandler)),
		middleware.WithReplayFilter(func(p middleware.Poisoned) bool {
			if !q.Filter.Match(p) || (q.Limit > 0 && matched >= q.Limit) {
				return false
			}
			matched++
			if each != nil {
				each(p)
			}
			return true
		}),
	}
	if seen > 0 {
		// Through every listed message, then stop: none of them is left
		// read and given back (RabbitMQ quorum queues count that).
		opts = append(opts, middleware.WithReplayStopAfter(seen))
	}
	if q.ToGroup != "" {
		opts = append(opts, middleware.WithReplayGroup(q.ToGroup))
	}
	return middleware.Replay(ctx, sub, tr.Publisher(), opts...)
}
