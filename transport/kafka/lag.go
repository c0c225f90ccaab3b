package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// PartitionLag is how far one consumer group is behind on one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset (the next record it will
	// read), or -1 if it has committed none (it then starts at Start).
	Committed int64
	// Start is the oldest retained offset, End the high watermark (one
	// past the newest record).
	Start, End int64
	// Lag is the number of records the group has not handled yet:
	// End - Committed, or End - Start without a commit.
	Lag int64
}

// Lag returns the lag of tradebus group group subscribed to pattern (Kafka
// group GroupID(group, pattern)) on every partition of the pattern's kind
// topic, sorted by partition. It counts records the pattern filters out
// too: they are skipped in-process, after fetching. It is safe for
// concurrent use.
func (d *Driver) Lag(ctx context.Context, group, pattern string) ([]PartitionLag, error) {
	st, err := d.topic(pattern)
	if err != nil {
		return nil, err
	}
	topic := st.name
	gid := GroupID(group, pattern)
	ends, err := d.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: lag of %q: end offsets of %s: %w", gid, topic, err)
	}
	starts, err := d.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: lag of %q: start offsets of %s: %w", gid, topic, err)
	}
	committed, err := d.adm.FetchOffsets(ctx, gid)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // a group that never joined has committed nothing
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: lag of %q: committed offsets: %w", gid, err)
	}
	var lags []PartitionLag
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
		lags = append(lags, l)
	})
	slices.SortFunc(lags, func(a, b PartitionLag) int { return int(a.Partition - b.Partition) })
	return lags, nil
}
