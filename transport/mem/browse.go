package mem

import (
	"bytes"
	"context"
	"slices"

	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time check.
var _ driver.Browser = (*Driver)(nil)

// Browse implements driver.Browser: it passes a snapshot of the
// subscription queue (group, pattern) — the messages waiting and those
// out with a member and not yet acked — in queue order. Nothing changes in
// the queue. A queue that does not exist has nothing to show.
func (d *Driver) Browse(ctx context.Context, group, pattern string, fn func(*driver.Message) bool) error {
	d.mu.RLock()
	q, ok := d.queues[queueID{group: group, pattern: pattern}]
	closed := d.closed
	d.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if !ok {
		return nil
	}
	snap := q.snapshot()
	slices.SortFunc(snap, func(a, b *entry) int { return cmpSeq(a.seq, b.seq) })
	for _, e := range snap {
		if err := ctx.Err(); err != nil {
			return err
		}
		dm := &driver.Message{
			UUID: e.uuid, Key: e.key, PartitionKey: e.pkey,
			Metadata: e.metadataMap(), Payload: bytes.Clone(e.payload),
		}
		if !fn(dm) {
			return nil
		}
	}
	return nil
}

// snapshot returns the entries waiting and those out with a member (every
// member holding one is some key's holder).
func (q *queue) snapshot() []*entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	snap := append([]*entry(nil), q.items...)
	seen := make(map[*member]struct{}, len(q.holderOf))
	for _, m := range q.holderOf {
		if _, ok := seen[m]; ok {
			continue
		}
		seen[m] = struct{}{}
		for e := range m.out {
			snap = append(snap, e)
		}
	}
	return snap
}
