package kafka_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/kafka"
)

// TestReadPartitions: on a topic of 4 partitions, Read after the position
// of one message passes the rest of that partition and every other
// partition from its oldest record; positions name the topic and
// partition; Read joins no consumer group; several positions (one per partition) resume each partition
// after its own; an offset that is not a number is an error.
func TestReadPartitions(t *testing.T) {
	brokers := testBrokers(t)
	tr := newTransport(t, brokers, kafka.WithPartitions(4))
	kind := randomName("k")
	pattern := kind + ".#"
	for i := range 4 {
		for _, sym := range []string{"A", "B", "C", "D", "E", "F", "G", "H"} {
			publish(t, tr, kind+".x."+sym, newMsg(sym, strconv.Itoa(i)))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	read := func(from transport.From) map[string]transport.Position {
		t.Helper()
		got := make(map[string]transport.Position)
		if err := transport.Read(ctx, tr, pattern, from, func(m *message.Message) bool {
			p, _ := transport.PositionFromContext(m.Context())
			got[m.UUID] = p
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	groups := func() []string {
		t.Helper()
		gs, err := kadm.NewClient(cl).ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := gs.Groups()
		slices.Sort(names)
		return names
	}
	before := groups()
	all := read(transport.FromBeginning())
	if after := groups(); !slices.Equal(after, before) {
		t.Errorf("Read changed the cluster's groups from %v to %v: it must join none", before, after)
	}
	if len(all) != 32 {
		t.Fatalf("Read from the beginning passed %d messages, want 32", len(all))
	}
	parts := make(map[int32]bool)
	last := make(map[int32]transport.Position) // newest per partition
	for _, p := range all {
		if p.Stream != tr.Topic(kind) {
			t.Errorf("position %v names stream %q, want topic %q", p, p.Stream, tr.Topic(kind))
		}
		parts[p.Partition] = true
		if off(p) > off(last[p.Partition]) || last[p.Partition].IsZero() {
			last[p.Partition] = p
		}
	}
	if len(parts) < 2 {
		t.Fatalf("8 keys landed on %d partition(s); the test needs at least 2", len(parts))
	}
	var at transport.Position
	for _, p := range all {
		if off(p) == 1 {
			at = p
			break
		}
	}
	var want []string
	for id, p := range all {
		if p.Partition != at.Partition || off(p) > off(at) {
			want = append(want, id)
		}
	}
	var got []string
	for id := range read(transport.FromPosition(at)) {
		got = append(got, id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Read after %v passed %d messages, want %d: the rest of its partition and all of the others", at, len(got), len(want))
	}
	var ends []transport.Position
	for _, p := range last {
		ends = append(ends, p)
	}
	if rest := read(transport.FromPosition(ends...)); len(rest) != 0 {
		t.Errorf("Read after the newest position of every partition passed %d messages, want 0", len(rest))
	}
	bad := at
	bad.Offset = "x"
	if err := transport.Read(ctx, tr, pattern, transport.FromPosition(bad), func(*message.Message) bool { return true }); err == nil || errors.Is(err, transport.ErrNotReplayable) {
		t.Errorf("Read after an offset that is not a number: %v, want an error", err)
	}
}

func off(p transport.Position) int64 {
	n, _ := strconv.ParseInt(p.Offset, 10, 64)
	return n
}
