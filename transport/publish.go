package transport

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// BatchPublisher is implemented by publishers that can send messages to
// many routing keys in one pipelined call. publisher.Publish uses it when
// the transport's publisher has it.
type BatchPublisher interface {
	// PublishBatch sends every message to the routing key in its
	// "routingkey" metadata, pipelined, and returns when the broker has
	// confirmed all of them, or with an error. Messages with the same
	// partition key keep their order.
	PublishBatch(ctx context.Context, msgs []*message.Message) error
}

// Publisher is a Portable's publisher. It is safe for concurrent use; its
// zero value is not usable (get it from Portable.Publisher).
type Publisher struct {
	t *Portable
}

// Publish sends messages to the routing key topic, pipelined, and returns
// once the broker confirmed every one (on mem: every copy is queued), or
// with an error. The call is bounded by the first message's context. A
// message whose "routingkey" metadata is missing gets topic (in a copy of
// its metadata). A routing key that no subscription matches is not an
// error: the message is dropped, as by a broker's topic exchange.
//
// Messages must not be modified while Publish runs; afterwards the caller
// may reuse them.
func (p *Publisher) Publish(topic string, messages ...*message.Message) error {
	if err := events.ValidateRoutingKey(topic); err != nil {
		return err
	}
	if len(messages) == 0 {
		return nil
	}
	return p.send(messages[0].Context(), topic, messages)
}

// PublishBatch implements BatchPublisher: every message goes to the
// routing key in its "routingkey" metadata (which must be set and valid).
func (p *Publisher) PublishBatch(ctx context.Context, msgs []*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return p.send(ctx, "", msgs)
}

// SendMessages sends msgs, each to its Key, in one pipelined batch, as
// PublishBatch does, for callers that build driver messages directly
// (package publisher): no Watermill message per event. Each message's Key
// must be valid and equal to its "routingkey" metadata, and its
// PartitionKey equal to its "partitionkey" metadata. msgs must not be
// modified while SendMessages runs, and their Metadata maps are the
// transport's from the call on: the caller must neither read nor modify
// them afterwards (mem hands a map to the subscriber instead of a copy),
// unless ReleasesMetadata reports true.
func (p *Publisher) SendMessages(ctx context.Context, msgs []driver.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ptrs, err := p.prepare(ctx, msgs)
	if err != nil {
		return err
	}
	return p.t.sendBatch(ctx, ptrs)
}

// ReleasesMetadata reports whether the caller of SendMessages may reuse
// the Metadata maps of its messages once the call returned (the driver's
// driver.Capabilities.ReleasesMetadata): package publisher then fills the
// same maps call after call instead of allocating new ones.
func (p *Publisher) ReleasesMetadata() bool { return p.t.caps.ReleasesMetadata }

// SendMessagesPipelined is SendMessages in two steps, for a caller that
// keeps several batches of a partition key in flight (publisher.Async):
// it returns once msgs are handed to the broker connection, and wait then
// waits for the broker's confirms and returns what SendMessages would.
// The messages of a call that starts after an earlier one returned are
// stored after the earlier call's messages of their partition key (a
// failed message leaves a gap). On a driver that cannot pipeline
// (driver.PipelinedTopic), or with observation on, the whole batch is sent
// and confirmed before it returns: wait is then nil and err the outcome.
// Otherwise, when err is not nil nothing is in flight, and when it is nil
// wait must be called once.
func (p *Publisher) SendMessagesPipelined(ctx context.Context, msgs []driver.Message) (wait func() error, err error) {
	ptrs, err := p.prepare(ctx, msgs)
	if err != nil {
		return nil, err
	}
	t := p.t
	pt, ok := t.topic.(driver.PipelinedTopic)
	if !ok || t.obs != nil || len(ptrs) == 0 {
		return nil, t.sendBatch(ctx, ptrs)
	}
	if err := t.beginSend(); err != nil {
		return nil, err
	}
	dwait, err := pt.SendPipelined(ctx, ptrs)
	if err != nil {
		t.sending.Done()
		return nil, fmt.Errorf("%s: publish %d messages: %w", t.caps.Name, len(ptrs), err)
	}
	return func() error {
		defer t.sending.Done()
		if err := dwait(); err != nil {
			return fmt.Errorf("%s: publish %d messages: %w", t.caps.Name, len(ptrs), err)
		}
		return nil
	}, nil
}

// prepare checks msgs as SendMessages documents and returns pointers to
// them.
func (p *Publisher) prepare(ctx context.Context, msgs []driver.Message) ([]*driver.Message, error) {
	t := p.t
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ptrs := make([]*driver.Message, len(msgs))
	for i := range msgs {
		dm := &msgs[i]
		if err := events.ValidateRoutingKey(dm.Key); err != nil {
			return nil, fmt.Errorf("%s: message %s: %w", t.caps.Name, dm.UUID, err)
		}
		if dm.Metadata[events.MetaRoutingKey] != dm.Key || dm.Metadata[events.MetaPartitionKey] != dm.PartitionKey {
			return nil, fmt.Errorf("%w: message %s: Key and PartitionKey must equal its routingkey and partitionkey metadata", ErrInvalidOption, dm.UUID)
		}
		if t.countsSizes() {
			if err := t.checkSize(dm); err != nil {
				return nil, err
			}
		}
		dm.MetadataHandedOver = true
		ptrs[i] = dm
	}
	return ptrs, nil
}

// Close is a no-op; close the Transport instead.
func (p *Publisher) Close() error { return nil }

// send converts msgs (to topic, or each to its routingkey metadata when
// topic is "") and sends them in one SendBatch.
func (p *Publisher) send(ctx context.Context, topic string, msgs []*message.Message) error {
	t := p.t
	if err := ctx.Err(); err != nil {
		return err
	}
	dms := make([]driver.Message, len(msgs))
	ptrs := make([]*driver.Message, len(msgs))
	for i, msg := range msgs {
		if err := t.toDriver(topic, msg, &dms[i]); err != nil {
			return err
		}
		ptrs[i] = &dms[i]
	}
	return t.sendBatch(ctx, ptrs)
}

// sendBatch hands one batch to the driver unless t is closed.
func (t *Portable) sendBatch(ctx context.Context, msgs []*driver.Message) error {
	if err := t.beginSend(); err != nil {
		return err
	}
	defer t.sending.Done()
	if t.obs != nil {
		return t.sendObserved(ctx, msgs)
	}
	if err := t.topic.SendBatch(ctx, msgs); err != nil {
		return fmt.Errorf("%s: publish %d messages: %w", t.caps.Name, len(msgs), err)
	}
	return nil
}

// toDriver fills dm from msg, checking the routing key and the driver's
// size limits. It copies msg's metadata only when the routing key must be
// added to it.
func (t *Portable) toDriver(topic string, msg *message.Message, dm *driver.Message) error {
	md := msg.Metadata
	key := topic
	if key == "" {
		key = md[events.MetaRoutingKey]
		if err := events.ValidateRoutingKey(key); err != nil {
			return fmt.Errorf("%s: message %s: %w", t.caps.Name, msg.UUID, err)
		}
	} else if md[events.MetaRoutingKey] != key {
		c := make(message.Metadata, len(md)+1)
		for k, v := range md {
			c[k] = v
		}
		c[events.MetaRoutingKey] = key
		md = c
	}
	*dm = driver.Message{
		UUID:         msg.UUID,
		Key:          key,
		PartitionKey: md[events.MetaPartitionKey],
		Metadata:     md,
		Payload:      msg.Payload,
	}
	if t.countsSizes() {
		return t.checkSize(dm)
	}
	return nil
}

// countsSizes reports whether the core checks the driver's size limits
// itself (checkSize) before handing it messages.
func (t *Portable) countsSizes() bool {
	return (t.caps.MaxMessageBytes > 0 || t.caps.MaxHeaderBytes > 0) && !t.caps.ChecksSizes
}

// MetadataSize is the size the core counts for a message's metadata
// against a driver's MaxHeaderBytes: the bytes of every key and value.
func MetadataSize(md map[string]string) int {
	n := 0
	for k, v := range md {
		n += len(k) + len(v)
	}
	return n
}

func (t *Portable) checkSize(dm *driver.Message) error {
	hdr := MetadataSize(dm.Metadata) + len(dm.UUID)
	if lim := t.caps.MaxHeaderBytes; lim > 0 && hdr > lim {
		return &TooLargeError{Driver: t.caps.Name, Key: dm.Key, UUID: dm.UUID, What: "metadata", Size: hdr, Limit: lim}
	}
	if lim := t.caps.MaxMessageBytes; lim > 0 && hdr+len(dm.Payload) > lim {
		return &TooLargeError{Driver: t.caps.Name, Key: dm.Key, UUID: dm.UUID, What: "message", Size: hdr + len(dm.Payload), Limit: lim}
	}
	return nil
}
