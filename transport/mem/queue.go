package mem

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/tradebus/tradebus/transport/driver"
)

type queueID struct{ group, pattern string }

// entry is one message in one queue. seq orders the queue; a message given
// back goes back to its place.
type entry struct {
	uuid     string
	key      string            // routing key
	pkey     string            // partition key
	metadata []string          // key, value, key, value …
	md       map[string]string // handed over by the sender, for the first delivery
	payload  []byte
	stream   string // Position: the kind's stream, "" without history
	offset   string // Position: the offset in it
	seq      uint64
	holder   *member // while delivered and not yet acked or given back
}

// metadataMap returns the map the sender handed over, the first time, or
// else a new map of e's metadata.
func (e *entry) metadataMap() map[string]string {
	if md := e.md; md != nil {
		e.md = nil
		return md
	}
	return metadataOf(e.metadata)
}

// queue is one subscription queue: a consumer group bound with one
// pattern. Its members (subscriptions) take messages from it in batches.
// A partition key is held by at most one member at a time — the one that
// has messages of it not yet acked — so a key stays in order across
// members, as on a single RabbitMQ queue with a key-pinning consumer.
type queue struct {
	d  *Driver
	id queueID

	mu          sync.Mutex
	items       []*entry       // waiting, in seq order
	seq         uint64         // last seq given
	holders     map[string]int // partition key -> messages out with its holder
	holderOf    map[string]*member
	members     int           // open subscriptions
	out         int           // messages delivered and not yet acked or given back
	deleted     bool          // removed by DeleteGroup: publishes skip it, joins fail
	waiting     int           // members blocked in ReceiveBatch
	last        *member       // the member that took messages last
	more        chan struct{} // closed when items or holders change and moreWaiting
	moreWaiting bool
	room        chan struct{} // closed when items shrink and roomWaiting
	roomWaiting bool
}

func newQueue(d *Driver, id queueID) *queue {
	return &queue{
		d:        d,
		id:       id,
		holders:  make(map[string]int),
		holderOf: make(map[string]*member),
		more:     make(chan struct{}),
		room:     make(chan struct{}),
	}
}

// signalMore wakes the members waiting for messages; q.mu is held.
func (q *queue) signalMore() {
	if q.moreWaiting {
		close(q.more)
		q.more = make(chan struct{})
		q.moreWaiting = false
	}
}

// signalRoom wakes the publishers waiting for room; q.mu is held.
func (q *queue) signalRoom() {
	if q.roomWaiting {
		close(q.room)
		q.room = make(chan struct{})
		q.roomWaiting = false
	}
}

// push appends e (all but its seq set), waiting for room (OverflowBlock)
// or failing (OverflowFail) while the queue is full.
func (q *queue) push(ctx context.Context, e *entry) error {
	for {
		q.mu.Lock()
		if q.deleted {
			q.mu.Unlock()
			return nil // the group is gone: nothing to keep for it
		}
		if len(q.items) < q.d.cfg.buffer {
			q.seq++
			e.seq = q.seq
			q.items = append(q.items, e)
			q.signalMore()
			q.mu.Unlock()
			return nil
		}
		if q.d.cfg.overflow == OverflowFail {
			q.mu.Unlock()
			return &BufferFullError{Group: q.id.group, Pattern: q.id.pattern, Key: e.key, Capacity: q.d.cfg.buffer}
		}
		q.roomWaiting = true
		wait := q.room
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("mem: publish %q: waiting for room in group %q pattern %q: %w",
				e.key, q.id.group, q.id.pattern, ctx.Err())
		case <-q.d.done:
			return ErrClosed
		}
	}
}

// member is one subscription of a queue.
type member struct {
	q      *queue
	closed bool                // guarded by q.mu
	out    map[*entry]struct{} // delivered, not yet acked or given back
}

// Compile-time check.
var _ driver.Subscription = (*member)(nil)

// join adds a member, or returns nil if q was deleted.
func (q *queue) join() *member {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		return nil
	}
	q.members++
	return &member{q: q, out: make(map[*entry]struct{})}
}

// ReceiveBatch takes up to max waiting messages whose partition key no
// other member holds, waiting for the first.
func (m *member) ReceiveBatch(ctx context.Context, max int) ([]*driver.Message, error) {
	q := m.q
	waited := false
	for {
		q.mu.Lock()
		if waited {
			q.waiting--
		}
		if m.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		if batch := m.take(max); len(batch) > 0 {
			q.last = m
			q.mu.Unlock()
			return batch, nil
		}
		q.waiting++
		waited = true
		q.moreWaiting = true
		wait := q.more
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			q.mu.Lock()
			q.waiting--
			q.moreWaiting = true
			q.signalMore() // a member that yielded to this one looks again
			q.mu.Unlock()
			return nil, ctx.Err()
		case <-q.d.done:
			return nil, ErrClosed
		}
	}
}

// take removes up to max messages m may have from q.items and returns them
// as driver messages, each with its own copy of the metadata; q.mu is held.
func (m *member) take(limit int) []*driver.Message {
	q := m.q
	// Share, as a broker round-robins a queue's consumers: take a
	// member's part of what waits, not all of it, and when this member took
	// last and another is waiting, leave it the keys nobody holds.
	yield := false
	if q.members > 1 {
		limit = min(limit, max(1, (len(q.items)+q.members-1)/q.members))
		yield = q.last == m && q.waiting > 0
	}
	var dms []driver.Message
	var out []*driver.Message
	var a arena
	w, i := 0, 0
	for ; i < len(q.items) && len(out) < limit; i++ {
		e := q.items[i]
		h := q.holderOf[e.pkey]
		if (h != nil && h != m) || (h == nil && yield) {
			q.items[w] = e // another member holds the key, or gets the turn: keep it waiting
			w++
			continue
		}
		if dms == nil {
			n := min(limit, len(q.items)-i)
			dms = make([]driver.Message, 0, n)
			for _, e := range q.items[i : i+n] {
				a.bytesLeft += len(e.payload) // a guess: some may be skipped
			}
		}
		q.holderOf[e.pkey] = m
		q.holders[e.pkey]++
		e.holder = m
		m.out[e] = struct{}{}
		q.out++
		dms = append(dms, driver.Message{
			UUID: e.uuid, Key: e.key, PartitionKey: e.pkey,
			Metadata: e.metadataMap(), Payload: a.bytes(e.payload),
			AckID: e, Deliveries: 1,
			Position: driver.Position{Stream: e.stream, Offset: e.offset},
		})
		out = append(out, &dms[len(dms)-1])
	}
	if len(out) == 0 {
		return nil
	}
	// The w kept messages are q.items[:w], the taken ones left a gap up to
	// i: move the kept ones up against q.items[i:] (not the rest down to
	// them, which would copy the whole backlog on every batch) and drop
	// the references before them.
	gap := i - w
	copy(q.items[gap:i], q.items[:w])
	clear(q.items[:gap])
	q.items = q.items[gap:]
	q.signalRoom()
	return out
}

// release ends m's hold of e; q.mu is held.
func (m *member) release(e *entry) bool {
	if e.holder != m {
		return false // already acked or given back
	}
	e.holder = nil
	delete(m.out, e)
	q := m.q
	q.out--
	if n := q.holders[e.pkey] - 1; n > 0 {
		q.holders[e.pkey] = n
	} else {
		delete(q.holders, e.pkey)
		delete(q.holderOf, e.pkey)
	}
	return true
}

// SendAcks removes the messages for good.
func (m *member) SendAcks(_ context.Context, ids []driver.AckID) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	for _, id := range ids {
		m.release(id.(*entry))
	}
	m.q.signalMore()
	return nil
}

// SendNacks puts the messages back in their places in the queue.
func (m *member) SendNacks(_ context.Context, ids []driver.AckID) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	back := make([]*entry, 0, len(ids))
	for _, id := range ids {
		if e := id.(*entry); m.release(e) {
			back = append(back, e)
		}
	}
	m.q.putBack(back)
	return nil
}

// putBack inserts es into q.items by seq; q.mu is held.
func (q *queue) putBack(es []*entry) {
	if len(es) == 0 {
		return
	}
	slices.SortFunc(es, func(a, b *entry) int { return cmpSeq(a.seq, b.seq) })
	merged := make([]*entry, 0, len(q.items)+len(es))
	i := 0
	for _, e := range es {
		for i < len(q.items) && q.items[i].seq < e.seq {
			merged = append(merged, q.items[i])
			i++
		}
		merged = append(merged, e)
	}
	q.items = append(merged, q.items[i:]...)
	q.signalMore()
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Close gives every message m still holds back to the queue, for the next
// member.
func (m *member) Close(context.Context) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.q.members--
	back := make([]*entry, 0, len(m.out))
	for e := range m.out {
		if m.release(e) {
			back = append(back, e)
		}
	}
	m.q.putBack(back)
	m.q.signalMore()
	return nil
}
