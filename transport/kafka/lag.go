package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time checks.
var (
	_ driver.Pinger       = (*Driver)(nil)
	_ driver.Inspector    = (*Driver)(nil)
	_ driver.GroupDeleter = (*Driver)(nil)
)

// PartitionLag is how far one consumer group is behind on one partition.
type PartitionLag = driver.PartitionLag

// Lag returns the lag of tradebus group group subscribed to pattern (Kafka
// group GroupID(group, pattern)) on every partition of the pattern's kind
// topic, sorted by partition, and its sum as Unacked: records not yet
// committed. Kafka does not tell which of them a member has fetched, so
// Pending and InFlight are driver.Unknown. It counts records the pattern
// filters out too: they are skipped in-process, after fetching. A group
// that never committed reports what it would read (from the oldest
// record); a missing topic gives an error wrapping
// transport.ErrGroupNotFound. Cost: two list-offsets requests (start,
// end) and an offset fetch, plus metadata requests when the client's
// cache is stale. It is safe for concurrent use.
func (d *Driver) Lag(ctx context.Context, group, pattern string) (driver.GroupLag, error) {
	if d.closed.Load() {
		return driver.GroupLag{}, ErrClosed
	}
	st, err := d.topic(pattern)
	if err != nil {
		return driver.GroupLag{}, err
	}
	topic := st.name
	gid := GroupID(group, pattern)
	ends, err := d.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return driver.GroupLag{}, fmt.Errorf("kafka: lag of %q: %w: topic %s does not exist", gid, transport.ErrGroupNotFound, topic)
	}
	if err != nil {
		return driver.GroupLag{}, fmt.Errorf("kafka: lag of %q: end offsets of %s: %w", gid, topic, err)
	}
	starts, err := d.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return driver.GroupLag{}, fmt.Errorf("kafka: lag of %q: start offsets of %s: %w", gid, topic, err)
	}
	committed, err := d.adm.FetchOffsets(ctx, gid)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // a group that never joined has committed nothing
	}
	if err != nil {
		return driver.GroupLag{}, fmt.Errorf("kafka: lag of %q: committed offsets: %w", gid, err)
	}
	res := driver.GroupLag{Pending: driver.Unknown, InFlight: driver.Unknown}
	ends.Each(func(end kadm.ListedOffset) {
		l := PartitionLag{Topic: topic, Partition: end.Partition, Committed: -1, End: end.Offset}
		if s, ok := starts.Lookup(topic, end.Partition); ok {
			l.Start = s.Offset
		}
		from := l.Start
		if c, ok := committed.Lookup(topic, end.Partition); ok && c.At >= 0 {
			l.Committed = c.At
			from = max(c.At, l.Start)
		}
		l.Lag = max(l.End-from, 0)
		res.Unacked += l.Lag
		res.Partitions = append(res.Partitions, l)
	})
	slices.SortFunc(res.Partitions, func(a, b PartitionLag) int { return int(a.Partition - b.Partition) })
	return res, nil
}

// DeleteGroup deletes the Kafka consumer group GroupID(group, pattern)
// and its committed offsets; the kind's topic stays. Kafka refuses while
// the group has members (transport.ErrGroupInUse); a group it does not
// know gives transport.ErrGroupNotFound. A later subscription starts at
// the oldest retained record, as a new group does.
func (d *Driver) DeleteGroup(ctx context.Context, group, pattern string) error {
	if d.closed.Load() {
		return ErrClosed
	}
	gid := GroupID(group, pattern)
	_, err := d.adm.DeleteGroup(ctx, gid)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.GroupIDNotFound):
		return fmt.Errorf("kafka: delete group %q: %w", gid, transport.ErrGroupNotFound)
	case errors.Is(err, kerr.NonEmptyGroup):
		return fmt.Errorf("kafka: delete group %q: %w: %w", gid, transport.ErrGroupInUse, err)
	}
	return fmt.Errorf("kafka: delete group %q: %w", gid, err)
}
