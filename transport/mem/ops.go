package mem

import (
	"context"
	"fmt"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time checks.
var (
	_ driver.Pinger       = (*Driver)(nil)
	_ driver.Inspector    = (*Driver)(nil)
	_ driver.GroupDeleter = (*Driver)(nil)
)

// Ping returns nil until Close, then ErrClosed: the broker is in process.
func (d *Driver) Ping(context.Context) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	return nil
}

// lookup returns the queue (group, pattern) or an error wrapping
// transport.ErrGroupNotFound.
func (d *Driver) lookup(group, pattern string) (*queue, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	q := d.queues[queueID{group: group, pattern: pattern}]
	if q == nil {
		return nil, fmt.Errorf("mem: %w: group %q pattern %q", transport.ErrGroupNotFound, group, pattern)
	}
	return q, nil
}

// Lag reports the queue of (group, pattern) exactly: Pending the messages
// waiting in it (given-back ones included), InFlight those its members
// hold. It takes two locks and counts nothing.
func (d *Driver) Lag(_ context.Context, group, pattern string) (driver.GroupLag, error) {
	q, err := d.lookup(group, pattern)
	if err != nil {
		return driver.GroupLag{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	pending, out := int64(len(q.items)), int64(q.out)
	return driver.GroupLag{Pending: pending, InFlight: out, Unacked: pending + out}, nil
}

// DeleteGroup removes the queue of (group, pattern) and the messages in
// it. It fails with transport.ErrGroupInUse while the queue has members.
func (d *Driver) DeleteGroup(_ context.Context, group, pattern string) error {
	id := queueID{group: group, pattern: pattern}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	q := d.queues[id]
	if q == nil {
		return fmt.Errorf("mem: %w: group %q pattern %q", transport.ErrGroupNotFound, group, pattern)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.members > 0 {
		return fmt.Errorf("mem: %w: group %q pattern %q has %d subscriptions", transport.ErrGroupInUse, group, pattern, q.members)
	}
	q.deleted = true
	clear(q.items)
	q.items = nil
	q.signalRoom() // publishers waiting for room skip it now
	delete(d.queues, id)
	clear(d.routes)
	return nil
}
