package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// ReplayStats reports what one Replay call did.
type ReplayStats struct {
	// Replayed messages were republished to their original routing key.
	Replayed int
	// Kept messages did not match the filter (or were not poisoned messages)
	// and were put back on the poison topic unchanged.
	Kept int
	// Unroutable messages had no valid original routing key; they were put
	// back on the poison topic unchanged.
	Unroutable int
}

// Replay reads poisoned messages from the poison topic with sub and
// republishes each one that passes the filter to its original routing key
// (MetaPoisonRoutingKey) with pub: same UUID, body, event id, correlation id and
// the rest of the envelope, but fresh delivery metadata — every MetaPoison* and
// MetaRetry* key is removed, "routingkey" is the original key, and
// MetaReplayCount / MetaReplayedAt record the replay.
//
// The replayed message is addressed to the consumer group that failed it
// (MetaReplayGroup = the dead letter's MetaPoisonSubscriberGroup, or
// WithReplayGroup): on a tradebus transport only that group's
// subscriptions hand it to a handler; every other group subscribed to the
// routing key acks it unseen, so it does not handle the event twice. A dead
// letter that names no such group (written by an older version, or
// received through another Subscriber) is replayed to every group unless
// WithReplayGroup says which. A poisoned message is
// acked only after its republish (or its put-back) succeeded; on a publish
// error Replay nacks it and returns the error.
//
// Messages that do not pass the filter (WithReplayFilter), are not poisoned
// messages, or have no valid original routing key are put back on the poison
// topic unchanged and acked. Replay makes one pass: a kept message that comes
// round again is held (unacked) until Replay returns and then put back once
// more, so it is neither replayed nor cycled. Replay stops after
// WithReplayLimit replays, after WithReplayStopAfter messages, when no
// message arrived for WithReplayIdle, or when ctx is done (then with ctx's
// error).
//
// Options: WithPoisonTopic (the concrete topic to read; default as NewPoison),
// WithConsumerGroup, WithReplayFilter, WithReplayLimit, WithReplayStopAfter,
// WithReplayIdle, WithReplayGroup, WithLogger. ListPoisoned lists the same dead letters
// without consuming them. sub must deliver messages published to the poison topic before
// Replay was called (e.g. a durable consumer group subscribed to it all along).
func Replay(ctx context.Context, sub message.Subscriber, pub message.Publisher, opts ...Option) (st ReplayStats, err error) {
	if sub == nil || pub == nil {
		return st, fmt.Errorf("%w: nil subscriber or publisher", ErrInvalidOption)
	}
	cfg, err := buildConfig(compReplay, opts)
	if err != nil {
		return st, err
	}
	topic := poisonTopic(cfg) // validated by WithPoisonTopic / WithConsumerGroup
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := sub.Subscribe(subCtx, topic)
	if err != nil {
		return st, fmt.Errorf("middleware: replay: subscribe %q: %w", topic, err)
	}
	keptIDs := make(map[string]struct{})
	var held []*message.Message
	defer func() {
		for _, m := range held {
			if perr := putBack(pub, topic, m); perr != nil && err == nil {
				err = perr
			}
		}
	}()
	idle := time.NewTimer(cfg.replayIdle)
	defer idle.Stop()
	for {
		var msg *message.Message
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-idle.C:
			return st, nil
		case m, ok := <-ch:
			if !ok {
				return st, nil
			}
			msg = m
		}
		if _, seen := keptIDs[msg.UUID]; seen {
			// A kept message came round again: everything that was ahead of
			// it in its queue was seen. Hold it unacked until the end so it
			// does not cycle; that also holds back only messages that arrived
			// after it was put back.
			held = append(held, msg)
			continue
		}
		p, perr := ParsePoisoned(msg)
		switch {
		case perr != nil || (cfg.replayFilter != nil && !cfg.replayFilter(p)):
			if err := putBack(pub, topic, msg); err != nil {
				return st, err
			}
			keptIDs[msg.UUID] = struct{}{}
			st.Kept++
		case events.ValidateRoutingKey(p.RoutingKey) != nil:
			cfg.logger.WarnContext(ctx, "tradebus: replay: poisoned message has no routing key, kept",
				slog.String("message_uuid", msg.UUID))
			if err := putBack(pub, topic, msg); err != nil {
				return st, err
			}
			keptIDs[msg.UUID] = struct{}{}
			st.Unroutable++
		default:
			target := cfg.replayGroup
			if target == "" {
				target = p.SubscriberGroup
			}
			rm := replayMessage(msg, p.RoutingKey, target)
			if p.Claim != "" {
				if cfg.claims == nil {
					msg.Nack()
					return st, fmt.Errorf("%w: dead letter %s is a claim check (%s): Replay needs WithClaimStore", ErrInvalidOption, msg.UUID, p.Claim)
				}
				payload, md, err := cfg.claims.GetClaim(ctx, p.Claim)
				if err != nil {
					msg.Nack()
					return st, fmt.Errorf("middleware: replay: fetch claim %s: %w", p.Claim, err)
				}
				orig := message.NewMessage(msg.UUID, payload)
				orig.Metadata = md
				rm = replayMessage(orig, p.RoutingKey, target)
			}
			rm.SetContext(msg.Context())
			if err := pub.Publish(p.RoutingKey, rm); err != nil {
				msg.Nack()
				return st, fmt.Errorf("middleware: replay: publish %s to %q: %w", msg.UUID, p.RoutingKey, err)
			}
			if p.Claim != "" {
				if err := cfg.claims.DeleteClaim(ctx, p.Claim); err != nil {
					cfg.logger.WarnContext(ctx, "tradebus: replay: claim not deleted", slog.String("claim", p.Claim), slog.Any("error", err))
				}
			}
			msg.Ack()
			st.Replayed++
			cfg.logger.InfoContext(ctx, "tradebus: replayed poisoned message",
				slog.String("message_uuid", msg.UUID), slog.String("routing_key", p.RoutingKey),
				slog.String("reason", p.Reason))
			if cfg.replayLimit > 0 && st.Replayed >= cfg.replayLimit {
				return st, nil
			}
		}
		if cfg.replayUntil > 0 && st.Replayed+st.Kept+st.Unroutable >= cfg.replayUntil {
			return st, nil
		}
		idle.Reset(cfg.replayIdle) // Go >= 1.23 timers: no stale tick after Reset
	}
}

// putBack republishes msg unchanged to the poison topic and acks it; on a
// publish error it nacks it.
func putBack(pub message.Publisher, topic string, msg *message.Message) error {
	cp := msg.Copy()
	cp.SetContext(msg.Context()) // bounded by the delivery, not forever
	if err := pub.Publish(topic, cp); err != nil {
		msg.Nack()
		return fmt.Errorf("middleware: replay: put %s back on %q: %w", msg.UUID, topic, err)
	}
	msg.Ack()
	return nil
}

// replayMessage builds the message Replay republishes to key, addressed
// to group ("" = every group).
func replayMessage(msg *message.Message, key, group string) *message.Message {
	rm := message.NewMessage(msg.UUID, msg.Payload)
	for k, v := range msg.Metadata {
		if strings.HasPrefix(k, "tradebus_poison_") || strings.HasPrefix(k, "tradebus_retry_") || k == MetaReplayGroup {
			continue
		}
		rm.Metadata.Set(k, v)
	}
	n, _ := strconv.Atoi(msg.Metadata.Get(MetaReplayCount))
	rm.Metadata.Set(MetaReplayCount, strconv.Itoa(n+1))
	rm.Metadata.Set(MetaReplayedAt, time.Now().UTC().Format(time.RFC3339Nano))
	rm.Metadata.Set(events.MetaRoutingKey, key)
	if group != "" {
		rm.Metadata.Set(MetaReplayGroup, group)
	}
	return rm
}
