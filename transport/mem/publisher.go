package mem

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// Publisher publishes to a Transport; the Watermill topic is the routing
// key. It is safe for concurrent use. The zero value is not usable; get it
// from Transport.Publisher.
type Publisher struct {
	t *Transport
}

// Publish routes each message to every subscription queue whose pattern
// matches topic and returns once every copy is enqueued (or with the first
// error). Messages are copied: the caller may reuse them afterwards. A
// message without "routingkey" metadata gets topic. A key no queue matches
// is dropped, as on a broker's topic exchange.
//
// When a queue is full, Publish waits until msg.Context() is done
// (OverflowBlock) or returns a *BufferFullError (OverflowFail). Messages
// before the failing one stay published.
func (p *Publisher) Publish(topic string, messages ...*message.Message) error {
	if err := events.ValidateRoutingKey(topic); err != nil {
		return err
	}
	if p.t.isClosing() {
		return ErrClosed
	}
	qs := p.t.route(topic)
	if len(qs) == 0 {
		return nil
	}
	for _, msg := range messages {
		s := newStored(topic, msg)
		for _, q := range qs {
			if err := q.enqueue(msg.Context(), topic, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close is a no-op; close the Transport instead.
func (p *Publisher) Close() error { return nil }
