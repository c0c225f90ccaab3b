package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
)

const publishTimeoutWithoutCtx = 10 * time.Second

// Publisher publishes messages to JetStream. It is safe for concurrent
// use. Obtain it from Transport.Publisher.
type Publisher struct {
	t *Transport
}

// Publish sends msgs, in order, to subject prefix.topic, where topic is the
// routing key ("trade.binance.BTCUSDT"), and returns when JetStream has
// stored every one (publish acks), or with the first error; on error some
// of msgs may have been stored. The stream of the key's kind is created or
// updated first if this Transport has not done so yet. Metadata travels as
// headers of the same names; the UUID as header Tradebus-Uuid (and as
// Nats-Msg-Id with WithDuplicateWindow). Publish waits under the first
// message's context (10s if it has no deadline).
//
// An invalid routing key returns an error matching events.ErrInvalidRoutingKey
// and nothing is sent.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.t.isClosed() {
		return ErrClosed
	}
	if err := events.ValidateRoutingKey(topic); err != nil {
		return fmt.Errorf("nats: publish: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	cfg := &p.t.cfg
	nms := make([]*natsgo.Msg, len(msgs))
	for i, m := range msgs {
		nm, err := encode(cfg.prefix, topic, m, cfg.dupWindow > 0)
		if err != nil {
			return fmt.Errorf("nats: publish to %s: %w", topic, err)
		}
		nms[i] = nm
	}
	ctx := msgs[0].Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeoutWithoutCtx)
		defer cancel()
	}
	kind := events.Kind(topic)
	if err := p.t.ensureStream(ctx, kind); err != nil {
		return fmt.Errorf("nats: publish to %s: %w", topic, err)
	}
	failed, err := p.send(ctx, nms)
	if err != nil && noStream(err) {
		// The stream is gone (deleted behind our back): create it again
		// and send what it refused, once.
		p.t.forgetStream(kind)
		if err = p.t.ensureStream(ctx, kind); err == nil {
			_, err = p.send(ctx, failed)
		}
	}
	if err != nil {
		return fmt.Errorf("nats: publish to %s: %w", topic, err)
	}
	return nil
}

// send publishes nms and waits for their acks. It returns the messages
// that failed and the first error.
func (p *Publisher) send(ctx context.Context, nms []*natsgo.Msg) ([]*natsgo.Msg, error) {
	js := p.t.js
	if len(nms) == 1 {
		if _, err := js.PublishMsg(ctx, nms[0]); err != nil {
			return nms, err
		}
		return nil, nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(nms))
	var failed []*natsgo.Msg
	var first error
	for i, nm := range nms {
		f, err := js.PublishMsgAsync(nm)
		if err != nil {
			return append(failed, nms[i:]...), errors.Join(first, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			failed = append(failed, nms[i])
			if first == nil {
				first = err
			}
		case <-ctx.Done():
			return append(failed, nms[i:]...), ctx.Err()
		}
	}
	return failed, first
}

// noStream reports that no stream took the subject.
func noStream(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders)
}

// Close is a no-op: the publisher lives as long as its Transport.
func (p *Publisher) Close() error { return nil }
