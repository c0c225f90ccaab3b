package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

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
	starts, ends, exists, err := d.offsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka: browse %q: %w", gid, err)
	}
	if !exists {
		return nil
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
	var msgs []driver.Message
	latest := make(map[string]int) // UUID -> index in msgs of its newest copy
	err = d.readRanges(ctx, "browse", topic, pattern, starts, ends, false, func(p int32, _, _ int64) int64 {
		if c, ok := committed.Lookup(topic, p); ok && c.At >= 0 {
			return c.At
		}
		return 0
	}, func(m *driver.Message) bool {
		m.AckID = nil
		latest[m.UUID] = len(msgs)
		msgs = append(msgs, *m)
		return true
	})
	if err != nil {
		return err
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
