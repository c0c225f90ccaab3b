package kafka

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"

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
	starts, ends, exists, err := d.offsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka: read %s: %w", topic, err)
	}
	if !exists {
		return nil
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
	return d.readRanges(ctx, "read", topic, pattern, starts, ends, func(p int32, _, end int64) int64 {
		switch start.At {
		case driver.StartTime:
			if o, ok := at.Lookup(topic, p); ok {
				return o.Offset
			}
			return end
		case driver.StartAfter:
			return after[p] // 0 (the oldest) if no position names p
		}
		return 0
	}, fn)
}
