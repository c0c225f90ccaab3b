package tradebustest

import (
	"context"
	"errors"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// recorder is the harness's message.Publisher: it starts the groups
// before the first publish, publishes through the transport and records
// what the transport stored. It keeps the transport publisher's fast
// paths (SendMessages, PublishBatch), so publisher.Publisher behaves as
// on a real transport.
type recorder struct {
	h    *Harness
	next message.Publisher
}

// sender and batcher are the fast paths of a tradebus transport publisher.
type (
	sender interface {
		SendMessages(ctx context.Context, msgs []driver.Message) error
	}
	batcher interface {
		PublishBatch(ctx context.Context, msgs []*message.Message) error
	}
)

func (r *recorder) Publish(topic string, msgs ...*message.Message) error {
	if err := r.h.start(); err != nil {
		return err
	}
	if err := r.next.Publish(topic, msgs...); err != nil {
		return err
	}
	recs := make([]record, len(msgs))
	for i, m := range msgs {
		recs[i] = record{key: topic, uuid: m.UUID, md: copyMetadata(m.Metadata), payload: m.Payload}
	}
	r.h.recordPublished(recs)
	return nil
}

func (r *recorder) PublishBatch(ctx context.Context, msgs []*message.Message) error {
	if err := r.h.start(); err != nil {
		return err
	}
	if err := r.next.(batcher).PublishBatch(ctx, msgs); err != nil {
		return err
	}
	recs := make([]record, len(msgs))
	for i, m := range msgs {
		recs[i] = record{key: m.Metadata.Get(events.MetaRoutingKey), uuid: m.UUID, md: copyMetadata(m.Metadata), payload: m.Payload}
	}
	r.h.recordPublished(recs)
	return nil
}

func (r *recorder) SendMessages(ctx context.Context, msgs []driver.Message) error {
	if err := r.h.start(); err != nil {
		return err
	}
	err := r.next.(sender).SendMessages(ctx, msgs)
	var se *driver.SendError
	if err != nil && !errors.As(err, &se) {
		return err
	}
	recs := make([]record, 0, len(msgs))
	for i, m := range msgs {
		if se != nil {
			if _, failed := se.Failed[i]; failed {
				continue
			}
		}
		recs = append(recs, record{key: m.Key, uuid: m.UUID, md: copyMetadata(m.Metadata), payload: m.Payload})
	}
	r.h.recordPublished(recs)
	return err
}

// Close is a no-op: the harness closes the transport at cleanup.
func (r *recorder) Close() error { return nil }

func (h *Harness) recordPublished(recs []record) {
	h.mu.Lock()
	h.published = append(h.published, recs...)
	h.signalLocked()
	h.mu.Unlock()
}
