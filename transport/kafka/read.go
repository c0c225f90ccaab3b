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

// Compile-time check.
var _ driver.Reader = (*Driver)(nil)

// Read implements driver.Reader. It reads every partition of the pattern's
// kind topic from start up to the high watermark as it is when Read
// starts, with a client of its own that joins no group and commits
// nothing. Per partition it starts at the oldest retained record
// (StartBeginning), one past the offset of the Position naming that
// partition, or the oldest retained record if none names it
// (StartAfter), or the first record whose timestamp is at or after the
// time (StartTime, Kafka's ListOffsets by timestamp). Records come in
// offset order within each partition, partitions interleaved as fetched,
// each with its Position (topic, partition, offset). A topic that does not
// exist has nothing to read.
func (d *Driver) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	st, err := d.topic(pattern)
	if err != nil {
		return err
	}
	topic := st.name
	ends, err := d.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kafka: read %s: end offsets: %w", topic, err)
	}
	starts, err := d.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka: read %s: start offsets: %w", topic, err)
	}
	var at kadm.ListedOffsets
	after := make(map[int32]int64)
	switch start.At {
	case driver.StartTime:
		at, err = d.adm.ListOffsetsAfterMilli(ctx, start.Time.UnixMilli(), topic)
		if err == nil {
			err = at.Error()
		}
		if err != nil {
			return fmt.Errorf("kafka: read %s: offsets after %s: %w", topic, start.Time, err)
		}
	case driver.StartAfter:
		for _, p := range start.Positions {
			if p.Stream != topic {
				continue
			}
			off, err := strconv.ParseInt(p.Offset, 10, 64)
			if err != nil || off < 0 {
				return fmt.Errorf("kafka: read %s: position %s: offset is not a Kafka offset", topic, p)
			}
			after[p.Partition] = off + 1
		}
	}
	from := make(map[int32]kgo.Offset)
	until := make(map[int32]int64) // partition -> high watermark
	ends.Each(func(end kadm.ListedOffset) {
		f := int64(0)
		if s, ok := starts.Lookup(topic, end.Partition); ok {
			f = s.Offset
		}
		switch start.At {
		case driver.StartTime:
			if o, ok := at.Lookup(topic, end.Partition); ok {
				f = max(f, o.Offset)
			} else {
				f = end.Offset
			}
		case driver.StartAfter:
			if o, ok := after[end.Partition]; ok {
				f = max(f, o)
			}
		}
		if f < end.Offset {
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
	for len(until) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("kafka: read %s partition %d: %w", t, p, err))
		})
		if ferr != nil {
			return ferr
		}
		stop := false
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := until[r.Partition]
			if stop || !ok || r.Offset >= end {
				return
			}
			if r.Offset >= end-1 {
				delete(until, r.Partition)
			}
			var m driver.Message
			decode(r, kind, &m)
			if !fn(&m) {
				stop = true
			}
		})
		if stop {
			return nil
		}
	}
	return nil
}
