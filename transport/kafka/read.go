package kafka

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

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
//
// With start.Follow it does not stop at the high watermarks: it reads on
// from them, records coming as fetches bring them (a fetch returns as soon
// as a record is there), until fn returns false or ctx is done (then it
// returns ctx.Err() at once). A partition with nothing to read yet is read
// from its end. A topic that does not exist yet is waited for (its offsets
// are listed again every followPoll); the partitions are those the topic
// has when the follow starts: partitions added to it later are not read.
func (d *Driver) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	st, err := d.topic(pattern)
	if err != nil {
		return err
	}
	topic := st.name
	starts, ends, err := d.waitOffsets(ctx, topic, start.Follow)
	if err != nil || ends == nil {
		return err
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
	return d.readRanges(ctx, "read", topic, pattern, starts, ends, start.Follow, func(p int32, _, end int64) int64 {
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

// followPoll is how often a follower looks again for a topic that does not
// exist yet.
const followPoll = 250 * time.Millisecond

// waitOffsets returns the offsets of topic (see offsets), and nil ends if
// it does not exist; with follow it waits until it exists and its offsets
// can be listed (riding out retriable errors) or ctx is done (ctx.Err()).
func (d *Driver) waitOffsets(ctx context.Context, topic string, follow bool) (starts, ends kadm.ListedOffsets, err error) {
	for {
		if d.closed.Load() {
			return nil, nil, ErrClosed
		}
		starts, ends, exists, err := d.offsets(ctx, topic)
		switch {
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case err != nil && (!follow || !kerr.IsRetriable(err)):
			return nil, nil, fmt.Errorf("kafka: read %s: %w", topic, err)
		case err == nil && (exists || !follow):
			return starts, ends, nil
		}
		// Following a topic that does not exist yet, or was just created
		// (its partitions' leaders not elected yet): look again.
		t := time.NewTimer(followPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}
