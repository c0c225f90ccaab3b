package mem

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/keyed"
)

type queueID struct{ group, pattern string }

// queue is one subscription queue: a consumer group bound with one
// pattern. Publish puts messages into buf (bounded); the dispatcher moves
// them into the key-ordered pool (at most cfg.concurrency in flight); each
// pool function hands its message to a member through handoff, waits for
// the ack and redelivers on nack.
type queue struct {
	t       *Transport
	id      queueID
	buf     chan *stored
	pool    *keyed.Pool
	handoff chan *delivery

	// sole is the queue's member while it has exactly one: deliveries
	// then go straight to its output channel, one goroutine hop and a
	// few allocations fewer per message than through handoff.
	sole    atomic.Pointer[member]
	mu      sync.Mutex // guards members
	members map[*member]struct{}
}

// join and leave keep members and sole up to date.
func (q *queue) join(m *member) {
	q.mu.Lock()
	q.members[m] = struct{}{}
	q.setSole()
	q.mu.Unlock()
}

func (q *queue) leave(m *member) {
	q.mu.Lock()
	delete(q.members, m)
	q.setSole()
	q.mu.Unlock()
}

func (q *queue) setSole() {
	if len(q.members) != 1 {
		q.sole.Store(nil)
		return
	}
	for m := range q.members {
		q.sole.Store(m)
	}
}

// stored is one published message as the broker keeps it: immutable,
// shared by every queue it was routed to.
type stored struct {
	uuid     string
	payload  []byte
	metadata map[string]string
	key      string // partition key
}

func newStored(routingKey string, msg *message.Message) *stored {
	md := maps.Clone(map[string]string(msg.Metadata)) // copies the table, no rehash
	if md == nil {
		md = make(map[string]string, 1)
	}
	if md[events.MetaRoutingKey] == "" {
		md[events.MetaRoutingKey] = routingKey
	}
	var payload []byte
	if msg.Payload != nil {
		payload = append([]byte(nil), msg.Payload...)
	}
	return &stored{
		uuid:     msg.UUID,
		payload:  payload,
		metadata: md,
		key:      md[events.MetaPartitionKey],
	}
}

// message returns a fresh copy for one delivery: a Watermill message can be
// acked only once, and a handler may modify what it gets.
func (s *stored) message() *message.Message {
	var payload []byte
	if s.payload != nil {
		payload = append([]byte(nil), s.payload...)
	}
	msg := message.NewMessage(s.uuid, payload)
	msg.Metadata = maps.Clone(s.metadata) // copies the table, no rehash
	return msg
}

// delivery is one attempt to hand a message to a member.
type delivery struct {
	msg *message.Message
	res chan handed // buffered(1); the member always answers
}

// handed is a member's answer: m == nil means it went away before the
// message reached its consumer.
type handed struct {
	m      *member
	cancel context.CancelFunc // cancels msg's context
}

func newQueue(t *Transport, id queueID) *queue {
	return &queue{
		t:       t,
		id:      id,
		buf:     make(chan *stored, t.cfg.buffer),
		pool:    keyed.New(t.cfg.concurrency),
		handoff: make(chan *delivery),
		members: make(map[*member]struct{}),
	}
}

func (q *queue) enqueue(ctx context.Context, routingKey string, s *stored) error {
	select {
	case q.buf <- s:
		return nil
	default:
	}
	if q.t.cfg.overflow == OverflowFail {
		return &BufferFullError{Group: q.id.group, Pattern: q.id.pattern, Key: routingKey, Capacity: q.t.cfg.buffer}
	}
	select {
	case q.buf <- s:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mem: publish %q: waiting for room in group %q pattern %q: %w",
			routingKey, q.id.group, q.id.pattern, ctx.Err())
	case <-q.t.drainCtx.Done():
		return ErrClosed
	}
}

// dispatch moves messages from buf into the pool until Close starts.
func (q *queue) dispatch() {
	defer q.t.wg.Done()
	for {
		select {
		case s := <-q.buf:
			if err := q.pool.Submit(q.t.drainCtx, s.key, func() { q.deliver(s) }); err != nil {
				return
			}
		case <-q.t.drainCtx.Done():
			return
		}
	}
}

// deliver runs on the pool's lane for s.key: it hands s to members until
// one acks it, waiting with backoff after each nack. Later messages of the
// same key wait on the lane, so the key's order survives redelivery.
func (q *queue) deliver(s *stored) {
	drain := q.t.drainCtx.Done()
	backoff := q.t.cfg.backoff
	for {
		if q.t.isClosing() {
			return // Close discards what was not delivered yet.
		}
		msg := s.message()
		var h handed
		if m := q.sole.Load(); m != nil {
			h = m.give(msg)
		}
		if h.m == nil {
			// Several members (or the sole one is leaving): the first
			// free one takes it.
			d := &delivery{msg: msg, res: make(chan handed, 1)}
			select {
			case q.handoff <- d:
			case <-drain:
				return // Close discards what was not delivered yet.
			}
			h = <-d.res
		}
		if h.m == nil {
			continue // the member left before its consumer took it
		}
		select {
		case <-msg.Acked():
			h.cancel()
			return
		case <-msg.Nacked():
			h.cancel()
		case <-h.m.ctx.Done():
			h.cancel()
			select {
			case <-msg.Acked():
				return
			default:
			}
			// The member went away with the message unacked: it stays
			// in the queue and goes to the next member at once.
			continue
		}
		// Nacked: redeliver after a backoff, not in a hot loop.
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-drain:
			timer.Stop()
			return
		}
		backoff = min(backoff*redeliveryBackoffMultiplier, q.t.cfg.backoffMax)
	}
}
