package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// offsets lists the oldest retained and the end offset (high watermark) of
// every partition of topic. exists is false when the topic does not exist.
func (d *Driver) offsets(ctx context.Context, topic string) (starts, ends kadm.ListedOffsets, exists bool, err error) {
	ends, err = d.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts, err = d.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	return starts, ends, true, nil
}

// readRanges reads every partition of topic from the offset first gives it
// (given its oldest retained offset; at most its end) up to its end offset
// as listed in ends, with a client of its own outside any group, and calls
// each with every decoded message, in offset order per partition; each
// returning false stops the read. op names the operation in errors.
//
// With follow it does not stop at the ends: every partition listed in
// ends is read from its first offset (a partition with nothing to read
// yet, from its end) onwards, records being passed as fetches bring them,
// until each returns false (nil) or ctx is done (ctx.Err()). Partitions
// added to the topic after ends was listed are not read.
func (d *Driver) readRanges(ctx context.Context, op, topic, pattern string, starts, ends kadm.ListedOffsets, follow bool,
	first func(partition int32, oldest, end int64) int64, each func(*driver.Message) bool) error {
	from := make(map[int32]kgo.Offset)
	until := make(map[int32]int64) // partition -> high watermark
	ends.Each(func(end kadm.ListedOffset) {
		oldest := int64(0)
		if s, ok := starts.Lookup(topic, end.Partition); ok {
			oldest = s.Offset
		}
		f := max(oldest, first(end.Partition, oldest, end.Offset))
		switch {
		case follow:
			from[end.Partition] = kgo.NewOffset().At(min(f, end.Offset))
		case f < end.Offset:
			from[end.Partition] = kgo.NewOffset().At(f)
			until[end.Partition] = end.Offset
		}
	})
	if len(from) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(d.clientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
	)...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	defer cl.Close()
	kind := events.Kind(pattern)
	for follow || len(until) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("kafka: %s %s partition %d: %w", op, t, p, err))
		})
		if ferr != nil {
			return ferr
		}
		stop := false
		fetches.EachRecord(func(r *kgo.Record) {
			if stop {
				return
			}
			if !follow {
				end, ok := until[r.Partition]
				if !ok || r.Offset >= end {
					return
				}
				if r.Offset >= end-1 {
					delete(until, r.Partition)
				}
			}
			var m driver.Message
			decode(r, kind, &m, strconv.FormatInt(r.Offset, 10))
			if !each(&m) {
				stop = true
			}
		})
		if stop {
			return nil
		}
	}
	return nil
}
