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
//
// With start.Follow it reads from the same start with XREAD BLOCK (up to
// WithBlock at a time, COUNT 256) after the last entry passed, so entries
// come as soon as they are added, and it does not stop: a stream that does
// not exist yet is waited for by the blocking read itself (Redis serves
// XREAD on a key created later). It returns ctx.Err() once ctx is done,
// which, as for a subscription, is seen when the read in progress
// returns: within WithBlock. A follower holds one pooled connection while
// it blocks (see PoolSize in the package doc).
func (d *Driver) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	if d.isClosed() {
		return ErrClosed
	}
	stream, kind := d.Stream(pattern), events.Kind(pattern)
	if start.Follow {
		return d.follow(ctx, stream, kind, afterID(stream, start), fn)
	}
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
		if !pass(stream, kind, xms, fn) {
			return nil
		}
		if len(xms) < browsePage {
			return nil
		}
		from = "(" + xms[len(xms)-1].ID
	}
}

// pass calls fn with each entry of xms, with its Position, and reports
// whether fn wanted more.
func pass(stream, kind string, xms []redis.XMessage, fn func(*driver.Message) bool) bool {
	for i := range xms {
		var dm driver.Message
		decode(kind, &xms[i], &dm)
		dm.Position = driver.Position{Stream: stream, Offset: xms[i].ID}
		if !fn(&dm) {
			return false
		}
	}
	return true
}

// afterID returns the entry id after which a follower of stream starts
// (XREAD passes the entries after an id): "0-0" for StartBeginning, the
// entry id of the Position naming the stream for StartAfter (or "0-0" if
// none names it), and the greatest id of the millisecond before the time
// for StartTime, so that the first entry passed is the first one stored
// at or after it.
func afterID(stream string, start driver.Start) string {
	switch start.At {
	case driver.StartTime:
		if ms := start.Time.UnixMilli(); ms > 0 {
			return strconv.FormatInt(ms-1, 10) + "-" + strconv.FormatUint(^uint64(0), 10)
		}
	case driver.StartAfter:
		for _, p := range start.Positions {
			if p.Stream == stream {
				return p.Offset
			}
		}
	}
	return "0-0"
}

// follow passes the entries of stream after the id after, as they are
// added, until fn returns false (nil) or ctx is done (ctx.Err()).
func (d *Driver) follow(ctx context.Context, stream, kind, after string, fn func(*driver.Message) bool) error {
	args := redis.XReadArgs{Streams: []string{stream, after}, Count: browsePage, Block: d.cfg.block}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.isClosed() {
			return ErrClosed
		}
		res, err := d.client.XRead(ctx, &args).Result()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, redis.Nil) {
				continue // nothing within the block time
			}
			return fmt.Errorf("redisstream: follow %s after %s: %w", stream, args.Streams[1], err)
		}
		for _, r := range res {
			if r.Stream != stream || len(r.Messages) == 0 {
				continue
			}
			if !pass(stream, kind, r.Messages, fn) {
				return nil
			}
			args.Streams[1] = r.Messages[len(r.Messages)-1].ID
		}
	}
}
