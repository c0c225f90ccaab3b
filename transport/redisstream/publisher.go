package redisstream

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
)

// Publisher appends messages to the stream of their routing key's kind.
// It is safe for concurrent use. Obtain it from Transport.Publisher.
type Publisher struct {
	t *Transport
}

// Publish appends msgs, in order, to the stream prefix+kind(topic) with one
// XADD each (MAXLEN ~ WithMaxLen), sent in one pipeline; topic is the
// routing key ("trade.binance.BTCUSDT"). It returns when Redis has stored
// every entry, or with the first error; on error some of msgs may have
// been stored (publish again: delivery is at-least-once anyway). The
// pipeline runs under the first message's context.
//
// An invalid routing key returns an error matching events.ErrInvalidRoutingKey
// and nothing is sent.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.t.isClosed() {
		return ErrClosed
	}
	if err := events.ValidateRoutingKey(topic); err != nil {
		return fmt.Errorf("redisstream: publish: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	stream := p.t.Stream(topic)
	args := make([]*redis.XAddArgs, len(msgs))
	for i, m := range msgs {
		vals, err := encode(topic, m)
		if err != nil {
			return fmt.Errorf("redisstream: publish to %s: %w", topic, err)
		}
		args[i] = &redis.XAddArgs{Stream: stream, MaxLen: p.t.cfg.maxLen, Approx: true, Values: vals}
	}
	ctx := msgs[0].Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if len(args) == 1 {
		if err := p.t.client.XAdd(ctx, args[0]).Err(); err != nil {
			return fmt.Errorf("redisstream: publish to %s: %w", topic, err)
		}
		return nil
	}
	cmds, err := p.t.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, a := range args {
			pipe.XAdd(ctx, a)
		}
		return nil
	})
	if err != nil {
		for i, c := range cmds {
			if c.Err() != nil {
				return fmt.Errorf("redisstream: publish to %s: message %d of %d (%s): %w",
					topic, i+1, len(msgs), msgs[i].UUID, c.Err())
			}
		}
		return fmt.Errorf("redisstream: publish to %s: %w", topic, err)
	}
	return nil
}

// Close is a no-op: the publisher lives as long as its Transport.
func (p *Publisher) Close() error { return nil }
