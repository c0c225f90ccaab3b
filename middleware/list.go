package middleware

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
)

// WithReplayGroup addresses every message Replay republishes to consumer
// group group instead of the group recorded in its dead letter
// (MetaPoisonSubscriberGroup): only that group's subscriptions handle it.
// Use it for dead letters that record no group. Default: the recorded
// group. group must be a valid consumer group (transport.ValidateGroup).
// Applies to Replay.
func WithReplayGroup(group string) Option {
	return Option{name: "WithReplayGroup", scope: compReplay, apply: func(c *config) error {
		if err := transport.ValidateGroup(group); err != nil {
			return invalidOption("WithReplayGroup", fmt.Sprintf("%q", group), err.Error())
		}
		c.replayGroup = group
		return nil
	}}
}

// WithReplayStopAfter makes Replay return once it has handled n messages
// of the poison topic (replayed, kept or unroutable; a kept message coming
// round again is not counted twice) — e.g. the count ListPoisoned gave —
// instead of waiting WithReplayIdle for more. Unlike stopping at
// WithReplayLimit, it goes through every message it counts, so it does not
// leave the ones after the last replay read and given back, which a broker
// that counts deliveries (RabbitMQ quorum queues) counts against them; only
// copies Replay itself put back (fresh ones) may be given back. Default: 0
// (until idle). Applies to Replay.
func WithReplayStopAfter(n int) Option {
	return Option{name: "WithReplayStopAfter", scope: compReplay, apply: func(c *config) error {
		if n < 0 {
			return invalidOption("WithReplayStopAfter", n, "must be >= 0")
		}
		c.replayUntil = n
		return nil
	}}
}

// ListPoisoned calls fn with each message on the poison topic that the
// dead-letter reader group reader (the group Replay reads as) has not
// consumed yet, oldest first where the broker keeps an order, without
// consuming it: it reads with transport.Browse, so nothing is acked,
// claimed, put back or appended, and listing twice shows the same dead
// letters (see each driver's Browse for what the broker shows, and what
// it counts, precisely). A message that is not a dead letter (no poison
// metadata) is passed with only Message and EventID set (Class == "").
// fn returning false stops the listing.
//
// tr must run on the portable core (transport.Open, transport.New);
// otherwise the error wraps transport.ErrNotSupported. Options:
// WithPoisonTopic (default as NewPoison), WithConsumerGroup, WithLogger.
// Safe for concurrent use.
func ListPoisoned(ctx context.Context, tr transport.Transport, reader string, fn func(Poisoned) bool, opts ...Option) error {
	if tr == nil || fn == nil {
		return fmt.Errorf("%w: nil transport or func", ErrInvalidOption)
	}
	cfg, err := buildConfig(compList, opts)
	if err != nil {
		return err
	}
	topic := poisonTopic(cfg)
	err = transport.Browse(ctx, tr, reader, topic, func(msg *message.Message) bool {
		p, perr := ParsePoisoned(msg)
		if perr != nil {
			p.EventID = msg.UUID
		}
		return fn(p)
	})
	if err != nil {
		return fmt.Errorf("middleware: list poison topic %q: %w", topic, err)
	}
	return nil
}
