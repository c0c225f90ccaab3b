package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// The errors of the operations API (Ping, Lag, DeleteGroup), beside
// ErrNotSupported.
var (
	// ErrGroupNotFound is wrapped by the error Lag and DeleteGroup return
	// for a consumer group of which the broker keeps no state.
	ErrGroupNotFound = errors.New("transport: consumer group not found")

	// ErrGroupInUse is wrapped by the error DeleteGroup returns while the
	// group has a subscription open on this Transport, or members the
	// broker knows of (RabbitMQ consumers, Kafka group members). Nothing
	// was deleted.
	ErrGroupInUse = errors.New("transport: consumer group in use")
)

// GroupLag is the backlog of one consumer group on one pattern: Pending
// (stored, not yet delivered), InFlight (delivered, not yet acked), Unacked
// (their sum), each Unknown where the broker does not report it, and
// Kafka's per-partition detail.
type GroupLag = driver.GroupLag

// PartitionLag is the lag of a consumer group on one Kafka partition.
type PartitionLag = driver.PartitionLag

// Unknown is the value of a GroupLag count the broker does not report.
const Unknown = driver.Unknown

// Ping checks the broker connection within ctx with a round trip (what
// each driver asks is in the README, "Operations"): nil means the broker
// answered. It returns ErrClosed after Close, and an error wrapping
// ErrNotSupported if the driver cannot ping. It is safe for concurrent use.
func (t *Portable) Ping(ctx context.Context) error {
	if t.isClosed() {
		return ErrClosed
	}
	p, ok := t.d.(driver.Pinger)
	if !ok {
		return fmt.Errorf("%w: %s: ping", ErrNotSupported, t.caps.Name)
	}
	return p.Ping(ctx)
}

// Lag returns the backlog of consumer group group subscribed to pattern
// on tr, as the broker reports it now. Each call makes a few requests to
// the broker and scans no messages (what each transport asks is in the
// README, "Operations"), so it is cheap enough for a periodic metrics
// gauge; it is safe for concurrent use.
//
// Errors: an invalid group or pattern (ErrInvalidGroup,
// events.ErrInvalidRoutingKey); no state of the group on the broker
// (ErrGroupNotFound — except on Kafka, whose groups start at the oldest
// record: there a group that never committed reports what it would read);
// a transport not on the portable core or a driver without the operation
// (ErrNotSupported); ErrClosed after Close.
func Lag(ctx context.Context, tr Transport, group, pattern string) (GroupLag, error) {
	t, err := operable(tr, group, pattern)
	if err != nil {
		return GroupLag{}, err
	}
	in, ok := t.d.(driver.Inspector)
	if !ok {
		return GroupLag{}, fmt.Errorf("%w: %s: lag", ErrNotSupported, t.caps.Name)
	}
	return in.Lag(ctx, group, pattern)
}

// DeleteGroup removes the broker-side state of consumer group group
// subscribed to pattern on tr: the RabbitMQ queue, the Kafka consumer
// group, the Redis Streams consumer group or the JetStream durable
// consumer, with the messages kept for the group. Exchanges, topics and
// streams, which other groups share, stay. A later subscription of the
// group starts as a group that never existed. Close the group's
// subscriptions first: DeleteGroup fails with ErrGroupInUse, deleting
// nothing, while one is open on tr, and on RabbitMQ and Kafka while the
// broker knows of a member anywhere; Redis and NATS cannot tell, and a
// member still reading there is left without its group.
//
// Errors: ErrGroupNotFound when there is nothing to delete, and those of
// Lag. It is safe for concurrent use.
func DeleteGroup(ctx context.Context, tr Transport, group, pattern string) error {
	t, err := operable(tr, group, pattern)
	if err != nil {
		return err
	}
	del, ok := t.d.(driver.GroupDeleter)
	if !ok {
		return fmt.Errorf("%w: %s: delete group", ErrNotSupported, t.caps.Name)
	}
	if t.subscribed(group, pattern) {
		return fmt.Errorf("%w: %s: group %q pattern %q has a subscription open on this transport",
			ErrGroupInUse, t.caps.Name, group, pattern)
	}
	return del.DeleteGroup(ctx, group, pattern)
}

// operable returns the core under tr (a *Portable, or a type embedding
// one) after validating group and pattern.
func operable(tr Transport, group, pattern string) (*Portable, error) {
	p, ok := tr.(interface{ portable() *Portable })
	if !ok || p.portable() == nil {
		return nil, fmt.Errorf("%w: %T does not run on the portable core", ErrNotSupported, tr)
	}
	t := p.portable()
	if err := ValidateGroup(group); err != nil {
		return nil, err
	}
	if err := events.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if t.isClosed() {
		return nil, ErrClosed
	}
	return t, nil
}

func (t *Portable) portable() *Portable { return t }

func (t *Portable) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// subscribed reports whether a subscription of (group, pattern) is open.
func (t *Portable) subscribed(group, pattern string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.consumers {
		if c.s.group == group && c.pattern == pattern {
			return true
		}
	}
	return false
}

// RemoveGroup deletes a group the caller owned and has just closed every
// subscription of (a tail's or a request-reply client's own group). Unlike
// DeleteGroup, a group already gone or a transport that cannot delete groups
// is not an error, and ErrGroupInUse is retried within ctx (at most 10 s):
// RabbitMQ still counts a consumer that just left for a moment.
func RemoveGroup(ctx context.Context, tr Transport, group, pattern string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	wait := 10 * time.Millisecond
	for {
		err := DeleteGroup(ctx, tr, group, pattern)
		switch {
		case err == nil, errors.Is(err, ErrNotSupported), errors.Is(err, ErrGroupNotFound):
			return nil
		case !errors.Is(err, ErrGroupInUse):
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
