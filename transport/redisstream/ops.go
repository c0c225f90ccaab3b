package redisstream

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time checks.
var (
	_ driver.Pinger       = (*Driver)(nil)
	_ driver.Inspector    = (*Driver)(nil)
	_ driver.GroupDeleter = (*Driver)(nil)
)

// GroupName returns the Redis consumer group of tradebus group group
// subscribed to pattern, on the stream Stream(pattern): group + ":" +
// pattern, e.g. "risk:trade.*.BTCUSDT". Use it with redis-cli (XINFO
// GROUPS, XPENDING).
func GroupName(group, pattern string) string { return groupName(group, pattern) }

// Ping sends PING.
func (d *Driver) Ping(ctx context.Context) error {
	if d.isClosed() {
		return ErrClosed
	}
	if err := d.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstream: ping: %w", err)
	}
	return nil
}

// Lag runs XINFO GROUPS on the pattern's kind stream (one command; its
// reply has a line per group of the stream): Pending is the group's "lag"
// (entries not yet delivered to it, Unknown where Redis cannot tell,
// after entries were deleted or trimmed from the part of the stream the
// group has not read), InFlight its "pending" (delivered, not acked —
// entries a member gave back at Close stay there until redelivered), and
// Unacked their sum. Like Kafka, the stream holds every key of the kind:
// entries the pattern filters out count until they are read (and then
// acked at once).
func (d *Driver) Lag(ctx context.Context, group, pattern string) (driver.GroupLag, error) {
	if d.isClosed() {
		return driver.GroupLag{}, ErrClosed
	}
	stream, name := d.Stream(pattern), groupName(group, pattern)
	groups, err := d.client.XInfoGroups(ctx, stream).Result()
	if redis.HasErrorPrefix(err, "no such key") {
		return driver.GroupLag{}, fmt.Errorf("redisstream: group %q: %w: stream %s does not exist", name, transport.ErrGroupNotFound, stream)
	}
	if err != nil {
		return driver.GroupLag{}, fmt.Errorf("redisstream: XINFO GROUPS %s: %w", stream, err)
	}
	for _, g := range groups {
		if g.Name != name {
			continue
		}
		l := driver.GroupLag{Pending: g.Lag, InFlight: g.Pending, Unacked: driver.Unknown}
		if g.Lag >= 0 {
			l.Unacked = g.Lag + g.Pending
		} else {
			l.Pending = driver.Unknown
		}
		return l, nil
	}
	return driver.GroupLag{}, fmt.Errorf("redisstream: group %q on %s: %w", name, stream, transport.ErrGroupNotFound)
}

// DeleteGroup destroys the group's Redis consumer group (XGROUP DESTROY):
// its consumers and pending entries go with it; the stream, which the
// kind's other groups read, stays. Redis cannot tell whether a member in
// another process is still reading: one that is recreates the group at
// the start of the stream on its next read, so stop them first.
func (d *Driver) DeleteGroup(ctx context.Context, group, pattern string) error {
	if d.isClosed() {
		return ErrClosed
	}
	stream, name := d.Stream(pattern), groupName(group, pattern)
	n, err := d.client.XGroupDestroy(ctx, stream, name).Result()
	if redis.HasErrorPrefix(err, "The XGROUP subcommand requires the key to exist") || (err == nil && n == 0) {
		return fmt.Errorf("redisstream: group %q on %s: %w", name, stream, transport.ErrGroupNotFound)
	}
	if err != nil {
		return fmt.Errorf("redisstream: XGROUP DESTROY %s %s: %w", stream, name, err)
	}
	return nil
}
