package redisstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// topic is the Driver's driver.Topic.
type topic Driver

// Command words boxed once (see codec.go).
var (
	boxedXAdd   any = "xadd"
	boxedMaxLen any = "maxlen"
	boxedApprox any = "~"
	boxedAutoID any = "*"
)

// SendBatch implements driver.Topic: one XADD per message (to the stream
// of its key's kind, MAXLEN ~ WithMaxLen), all in one pipeline, then it
// checks every reply. Messages of one partition key keep their slice
// order (one connection, in order). When Redis refused some entries and
// stored the others the error is a *driver.SendError; an error of the
// connection or of ctx leaves every entry in doubt (some may be stored).
func (t *topic) SendBatch(ctx context.Context, msgs []*driver.Message) error {
	d := (*Driver)(t)
	if d.isClosed() {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	head := 3 // xadd stream *
	var maxLen any
	if d.cfg.maxLen > 0 {
		head += 3
		maxLen = d.cfg.maxLen
	}
	n := 0
	for _, m := range msgs {
		n += head + fieldCount(m)
	}
	// One slab holds the arguments of every command: go-redis copies them
	// into its command before Pipeline.Do returns.
	slab := make([]any, 0, n)
	cmds := make([][]any, len(msgs))
	var kind string
	var stream any
	for i, m := range msgs {
		if k := events.Kind(m.Key); stream == nil || k != kind {
			kind, stream = k, d.cfg.prefix+k
		}
		start := len(slab)
		slab = append(slab, boxedXAdd, stream)
		if maxLen != nil {
			slab = append(slab, boxedMaxLen, boxedApprox, maxLen)
		}
		slab = append(slab, boxedAutoID)
		var err error
		if slab, err = encode(slab, m); err != nil {
			return err
		}
		cmds[i] = slab[start:len(slab):len(slab)]
	}
	if len(msgs) == 1 {
		return d.client.Do(ctx, cmds[0]...).Err()
	}
	pipe := d.client.Pipeline()
	for _, args := range cmds {
		pipe.Do(ctx, args...)
	}
	res, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	var failed map[int]error
	for i, c := range res {
		cerr := c.Err()
		if cerr == nil {
			continue
		}
		var rerr redis.Error
		if !errors.As(cerr, &rerr) {
			// Not a reply of Redis: the connection or ctx failed, and
			// which entries were stored is unknown.
			return fmt.Errorf("pipeline of %d XADD: %w", len(msgs), err)
		}
		if failed == nil {
			failed = make(map[int]error)
		}
		failed[i] = cerr
	}
	if failed == nil {
		return fmt.Errorf("pipeline of %d XADD: %w", len(msgs), err)
	}
	return &driver.SendError{Failed: failed}
}
