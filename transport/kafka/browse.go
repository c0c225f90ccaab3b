package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time check.
var _ driver.Browser = (*Driver)(nil)

// Browse implements driver.Browser. It reads every partition of the
// pattern's kind topic from the group's committed offset (its oldest
// retained record if it has committed none, as a new member would) up to
// the high watermark as it is when Browse starts, with a client of its
// own that joins no group and commits nothing: the group's offsets, its
// members and the topic are untouched. What it shows is what the group
// has not committed, so records a member acked after the last commit
// (at most WithCommitInterval ago, or past an unacked record) are shown
// too — except a record with a newer copy of the same UUID (one Replay put
// back): only the newest copy is shown. Records come in offset order
// within each partition, partitions interleaved; Browse holds them in
// memory before passing them. Deliveries is 0 (Kafka does not count
// them). A topic that does not exist has nothing to show.
func (d *Driver) Browse(ctx context.Context, group, pattern string, fn func(*driver.Message) bool) error {
	st, err := d.topic(pattern)
	if err != nil {
		return err
	}
	topic, gid := st.name, GroupID(group, pattern)
	ends, err := d.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kafka: browse %q: end offsets of %s: %w", gid, topic, err)
	}
	starts, err := d.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka: browse %q: start offsets of %s: %w", gid, topic, err)
	}
	committed, err := d.adm.FetchOffsets(ctx, gid)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // never joined: it would start at the oldest record
	}
	if err != nil {
		return fmt.Errorf("kafka: browse %q: committed offsets: %w", gid, err)
	}
	from := make(map[int32]kgo.Offset)
	until := make(map[int32]int64) // partition -> high watermark
	ends.Each(func(end kadm.ListedOffset) {
		f := int64(0)
		if s, ok := starts.Lookup(topic, end.Partition); ok {
			f = s.Offset
		}
		if c, ok := committed.Lookup(topic, end.Partition); ok && c.At >= 0 {
			f = max(f, c.At)
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
	var msgs []driver.Message
	latest := make(map[string]int) // UUID -> index in msgs of its newest copy
	for len(until) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("kafka: browse %s partition %d: %w", t, p, err))
		})
		if ferr != nil {
			return ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := until[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset >= end-1 {
				delete(until, r.Partition)
			}
			var m driver.Message
			decode(r, kind, &m)
			m.AckID = nil
			latest[m.UUID] = len(msgs)
			msgs = append(msgs, m)
		})
	}
	for i := range msgs {
		// An older copy of a message put back (its newer copy has the same
		// UUID and partition key, so it is later in the same partition) was
		// acked, though perhaps not committed.
		if latest[msgs[i].UUID] != i {
			continue
		}
		if !fn(&msgs[i]) {
			return nil
		}
	}
	return nil
}
