package redisstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// browsePage is how many entries one XPENDING or XRANGE of Browse reads.
const browsePage = 256

// Compile-time check.
var _ driver.Browser = (*Driver)(nil)

// Browse implements driver.Browser with read-only commands: the group's
// pending entries (delivered to a consumer and not acknowledged: XPENDING,
// then XRANGE of each id; Deliveries is their delivery count), then the
// entries after the group's last-delivered id (XINFO GROUPS, XRANGE) —
// never XREADGROUP, XCLAIM or XACK, so no entry is delivered, claimed,
// acknowledged, counted or appended and the stream's length is unchanged.
// Entries come in stream order. A pending entry whose content was trimmed
// (MAXLEN) is skipped. For a group that does not exist yet it shows what
// WithStart would give it: nothing (StartNew) or the whole stream
// (StartOldest).
func (d *Driver) Browse(ctx context.Context, group, pattern string, fn func(*driver.Message) bool) error {
	if d.isClosed() {
		return ErrClosed
	}
	stream, g, kind := d.Stream(pattern), groupName(group, pattern), events.Kind(pattern)
	last, exists, err := lastDelivered(ctx, d.client, stream, g)
	if err != nil {
		return err
	}
	if !exists {
		if d.cfg.start != StartOldest {
			return nil
		}
		return browseRange(ctx, d.client, stream, kind, "-", fn)
	}
	more, err := browsePending(ctx, d.client, stream, g, kind, fn)
	if err != nil || !more {
		return err
	}
	return browseRange(ctx, d.client, stream, kind, "("+last, fn)
}

// lastDelivered returns group's last-delivered id on stream; exists is
// false when the stream or the group does not exist.
func lastDelivered(ctx context.Context, c redis.UniversalClient, stream, group string) (id string, exists bool, err error) {
	n, err := c.Exists(ctx, stream).Result()
	if err != nil {
		return "", false, fmt.Errorf("redisstream: look up %s: %w", stream, err)
	}
	if n == 0 {
		return "", false, nil
	}
	groups, err := c.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return "", false, fmt.Errorf("redisstream: groups of %s: %w", stream, err)
	}
	for _, gi := range groups {
		if gi.Name == group {
			return gi.LastDeliveredID, true, nil
		}
	}
	return "", false, nil
}

// browsePending passes group's pending entries; more is false when fn
// stopped.
func browsePending(ctx context.Context, c redis.UniversalClient, stream, group, kind string, fn func(*driver.Message) bool) (more bool, err error) {
	start := "-"
	for {
		pend, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: stream, Group: group, Start: start, End: "+", Count: browsePage,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return false, fmt.Errorf("redisstream: pending entries of %s in %s: %w", group, stream, err)
		}
		if len(pend) == 0 {
			return true, nil
		}
		// One round trip for the page's entries.
		pipe := c.Pipeline()
		cmds := make([]*redis.XMessageSliceCmd, len(pend))
		for i, p := range pend {
			cmds[i] = pipe.XRangeN(ctx, stream, p.ID, p.ID, 1)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return false, fmt.Errorf("redisstream: read pending entries of %s: %w", stream, err)
		}
		for i, cmd := range cmds {
			xms, _ := cmd.Result()
			if len(xms) == 0 || xms[0].Values == nil {
				continue // trimmed or deleted
			}
			var dm driver.Message
			decode(kind, &xms[0], &dm)
			dm.Deliveries = int(min(pend[i].RetryCount, 1<<31-1))
			if !fn(&dm) {
				return false, nil
			}
		}
		if len(pend) < browsePage {
			return true, nil
		}
		start = "(" + pend[len(pend)-1].ID
	}
}

// browseRange passes the entries of stream from start ("-", or "(" + an
// id: after it) to the end as it is when Browse reaches it.
func browseRange(ctx context.Context, c redis.UniversalClient, stream, kind, start string, fn func(*driver.Message) bool) error {
	for {
		xms, err := c.XRangeN(ctx, stream, start, "+", browsePage).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redisstream: read %s: %w", stream, err)
		}
		for i := range xms {
			var dm driver.Message
			decode(kind, &xms[i], &dm)
			if !fn(&dm) {
				return nil
			}
		}
		if len(xms) < browsePage {
			return nil
		}
		start = "(" + xms[len(xms)-1].ID
	}
}
