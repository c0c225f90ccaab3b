package amqp

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
)

// Publisher publishes Watermill messages to the transport's topic exchange
// with the Watermill topic as routing key. Get it from Transport.Publisher.
// It is safe for concurrent use; concurrent calls share one AMQP channel
// and keep many messages in flight. The zero value is not usable.
type Publisher struct {
	t *Transport
}

var _ message.Publisher = (*Publisher)(nil)

// Publish sends msgs, in order, with routing key topic (a concrete routing
// key such as "trade.binance.BTCUSDT"), persistent, and — unless
// WithoutConfirms — returns only after the broker confirmed every one of
// them (they are then stored in every queue they were routed to). All
// messages are written before the first confirm is awaited, so a batch
// costs about one round trip.
//
// The call is bounded by the context of msgs[0] (msg.Context()) and by
// WithPublishTimeout. While the broker is unreachable it waits for a
// reconnect within those bounds, then returns an error wrapping
// ErrConnection. An error is a *PublishError; messages it counts as failed
// may still have been stored (their confirm was lost), so publishing them
// again can duplicate them. Publish never retries on its own.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	return p.t.publish(topic, msgs)
}

// Close does nothing: the publisher belongs to its Transport, whose Close
// stops it. It returns nil.
func (p *Publisher) Close() error { return nil }

func (t *Transport) publish(topic string, msgs []*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	fail := func(from int, err error) error {
		return &PublishError{Topic: topic, MessageID: msgs[from].UUID, Failed: len(msgs) - from, Total: len(msgs), Err: err}
	}
	if !t.beginPublish() {
		return fail(0, ErrClosed)
	}
	defer t.endPublish()
	if err := events.ValidateRoutingKey(topic); err != nil {
		return fail(0, fmt.Errorf("%w: topic: %w", ErrInvalidOption, err))
	}
	pubs := make([]amqp.Publishing, len(msgs))
	for i, msg := range msgs {
		p, err := toPublishing(msg)
		if err != nil {
			return fail(i, err)
		}
		pubs[i] = p
	}

	ctx, cancel := context.WithTimeout(msgs[0].Context(), t.cfg.publishTimeout)
	defer cancel()
	ch, err := t.publishChannel(ctx)
	if err != nil {
		return fail(0, err)
	}

	var dcs []*amqp.DeferredConfirmation
	if t.cfg.confirms {
		dcs = make([]*amqp.DeferredConfirmation, len(pubs))
	}
	for i := range pubs {
		if err := ctx.Err(); err != nil {
			return fail(0, err)
		}
		dc, err := ch.PublishWithDeferredConfirm(t.cfg.exchange, topic, false, false, pubs[i])
		if err != nil {
			return fail(0, channelErr(err))
		}
		if dcs != nil {
			dcs[i] = dc
		}
	}

	failed, first := 0, -1
	var firstErr error
	for i, dc := range dcs {
		var err error
		select {
		case <-dc.Done():
			if dc.Acked() {
				continue
			}
			if ch.IsClosed() {
				err = fmt.Errorf("%w: channel closed before the broker confirmed", ErrConnection)
			} else {
				err = ErrNacked
			}
		case <-ctx.Done():
			err = fmt.Errorf("%w: no confirm: %w", ErrConnection, ctx.Err())
		}
		failed++
		if first < 0 {
			first, firstErr = i, err
		}
	}
	if failed > 0 {
		return &PublishError{Topic: topic, MessageID: msgs[first].UUID, Failed: failed, Total: len(msgs), Err: firstErr}
	}
	return nil
}

// channelErr classifies a failed basic.publish. Headers are strings, so
// the only failures left are the channel's or the socket's.
func channelErr(err error) error {
	return fmt.Errorf("%w: %w", ErrConnection, err)
}

// publishChannel returns the shared publishing channel, opening it (and
// the connection) when needed.
func (t *Transport) publishChannel(ctx context.Context) (*amqp.Channel, error) {
	if ch := t.pubCh.Load(); ch != nil && !ch.IsClosed() {
		return ch, nil
	}
	select {
	case t.pubSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the publishing channel: %w", ErrConnection, ctx.Err())
	case <-t.done:
		return nil, ErrClosed
	}
	defer func() { <-t.pubSem }()
	if ch := t.pubCh.Load(); ch != nil && !ch.IsClosed() {
		return ch, nil
	}
	ch, err := t.openPublishChannel(ctx)
	if err != nil {
		return nil, err
	}
	t.pubCh.Store(ch)
	return ch, nil
}

func (t *Transport) openPublishChannel(ctx context.Context) (*amqp.Channel, error) {
	var lastErr error
	// A connection that dies right after the dial is dialled again, a
	// few times at most.
	for range 3 {
		conn, err := t.pubConn.connect(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := conn.Channel()
		if err != nil {
			lastErr = err
			if conn.IsClosed() {
				continue
			}
			return nil, fmt.Errorf("%w: open channel: %w", ErrConnection, err)
		}
		if t.cfg.confirms {
			if err := ch.Confirm(false); err != nil {
				_ = ch.Close()
				lastErr = err
				continue
			}
		}
		if err := declareExchange(ch, t.cfg.exchange); err != nil {
			_ = ch.Close()
			return nil, err
		}
		return ch, nil
	}
	return nil, fmt.Errorf("%w: open channel: %w", ErrConnection, lastErr)
}
