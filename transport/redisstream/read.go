package redisstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time check.
var _ driver.Reader = (*Driver)(nil)

// Read implements driver.Reader with XRANGE only (no group, nothing
// acknowledged or changed): the pattern's kind stream from start up to its
// last entry as it is when Read starts (XREVRANGE + - COUNT 1), in stream
// order, each with its Position (stream key, entry id). It starts at the
// first entry (StartBeginning), just after the entry id of the Position
// naming the stream, or at the first entry if none names it (StartAfter),
// or at the first entry whose id time is at or after the time
// ("<unix ms>-0": Redis entry ids are the server's clock when the entry
// was added; StartTime). A stream that does not exist has nothing to read.
func (d *Driver) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	if d.isClosed() {
		return ErrClosed
	}
	stream, kind := d.Stream(pattern), events.Kind(pattern)
	last, err := d.client.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstream: read %s: last entry: %w", stream, err)
	}
	if len(last) == 0 {
		return nil // no stream, or an empty one
	}
	from := "-"
	switch start.At {
	case driver.StartTime:
		from = strconv.FormatInt(max(start.Time.UnixMilli(), 0), 10) + "-0"
	case driver.StartAfter:
		for _, p := range start.Positions {
			if p.Stream == stream {
				from = "(" + p.Offset
			}
		}
	}
	end := last[0].ID
	for {
		xms, err := d.client.XRangeN(ctx, stream, from, end, browsePage).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redisstream: read %s from %s: %w", stream, from, err)
		}
		for i := range xms {
			var dm driver.Message
			decode(kind, &xms[i], &dm)
			dm.Position = driver.Position{Stream: stream, Offset: xms[i].ID}
			if !fn(&dm) {
				return nil
			}
		}
		if len(xms) < browsePage {
			return nil
		}
		from = "(" + xms[len(xms)-1].ID
	}
}
