package transporttest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
)

// read is one message transport.Read passed.
type read struct {
	uuid, pkey, payload string
	pos                 transport.Position
}

// readAll runs transport.Read of pattern from from and returns what it
// passed, failing on error or a message without a Position.
func (e *env) readAll(pattern string, from transport.From) []read {
	e.t.Helper()
	var got []read
	err := transport.Read(e.opsCtx(), e.tr, pattern, from, func(msg *message.Message) bool {
		pos, ok := transport.PositionFromContext(msg.Context())
		if !ok || pos.IsZero() {
			e.t.Errorf("Read: message %s has no position in its context", msg.UUID)
		}
		got = append(got, read{msg.UUID, msg.Metadata.Get("partitionkey"), string(msg.Payload), pos})
		return true
	})
	if err != nil {
		e.t.Fatalf("Read(%q, %+v): %v", pattern, from, err)
	}
	return got
}

// offsetLess orders two offsets of one partition: decimal numbers (Kafka,
// JetStream) or Redis entry ids ("ms-seq").
func offsetLess(a, b string) bool {
	pa, pb := strings.SplitN(a, "-", 2), strings.SplitN(b, "-", 2)
	for i := range max(len(pa), len(pb)) {
		var x, y uint64
		if i < len(pa) {
			x, _ = strconv.ParseUint(pa[i], 10, 64)
		}
		if i < len(pb) {
			y, _ = strconv.ParseUint(pb[i], 10, 64)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func samePartition(a, b transport.Position) bool {
	return a.Stream == b.Stream && a.Partition == b.Partition
}

// payloads returns the payloads of got's messages of partition key pkey,
// in the order read.
func payloads(got []read, pkey string) []string {
	var out []string
	for _, r := range got {
		if r.pkey == pkey {
			out = append(out, r.payload)
		}
	}
	return out
}

// testHistory: on a transport that keeps history (Capabilities.
// KeepsHistory), transport.Read passes what was published before, per
// partition key in publish order, with positions increasing within each
// partition; a subscription's messages carry the same positions; Read
// from the position of a message passes exactly the messages after it (in
// its partition; other partitions from their beginning); Read from a time
// between two batches passes only the second; Read of a narrower pattern
// passes only its keys; fn returning false stops; Read consumes nothing
// (a second Read sees the same). Elsewhere Read fails with
// ErrNotReplayable and messages carry no position.
func testHistory(e *env) {
	e.portable()
	pattern := e.kind + ".#"
	if !e.caps.KeepsHistory {
		err := transport.Read(e.opsCtx(), e.tr, pattern, transport.FromBeginning(), func(*message.Message) bool { return true })
		if !errors.Is(err, transport.ErrNotReplayable) {
			e.t.Fatalf("Read on a transport without history: %v, want ErrNotReplayable", err)
		}
		s := e.subscribe("hist", pattern)
		e.publish(e.kind+".a.k", newMessage("k", "0"))
		msg := e.recv(s.ch, "the message")
		if pos, ok := transport.PositionFromContext(msg.Context()); ok {
			e.t.Errorf("message of a transport without history has position %v", pos)
		}
		msg.Ack()
		return
	}
	const n = 5
	keyA, keyB := e.kind+".a.x", e.kind+".b.x"
	publishBatch := func(first int) {
		for i := first; i < first+n; i++ {
			e.publish(keyA, newMessage("pa", strconv.Itoa(i)))
			e.publish(keyB, newMessage("pb", strconv.Itoa(i)))
		}
	}
	want := func(from, to int) []string {
		var s []string
		for i := from; i < to; i++ {
			s = append(s, strconv.Itoa(i))
		}
		return s
	}
	s := e.subscribe("hist", pattern) // before publishing: groups may start at new messages
	publishBatch(0)

	// From the beginning: everything, in order per key, positions rising.
	all := e.readAll(pattern, transport.FromBeginning())
	for _, pk := range []string{"pa", "pb"} {
		if got := payloads(all, pk); !slices.Equal(got, want(0, n)) {
			e.t.Fatalf("Read from the beginning, key %s: %v, want %v", pk, got, want(0, n))
		}
	}
	for i, r := range all {
		for _, q := range all[:i] {
			if samePartition(q.pos, r.pos) && !offsetLess(q.pos.Offset, r.pos.Offset) {
				e.t.Errorf("position %v read after %v of the same partition", r.pos, q.pos)
			}
		}
	}
	// Partitions interleave as fetched (Kafka): compare in position order.
	byPosition := func(rs []read) []read {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b read) int {
			switch {
			case a.pos.Stream != b.pos.Stream:
				return strings.Compare(a.pos.Stream, b.pos.Stream)
			case a.pos.Partition != b.pos.Partition:
				return int(a.pos.Partition - b.pos.Partition)
			case offsetLess(a.pos.Offset, b.pos.Offset):
				return -1
			case offsetLess(b.pos.Offset, a.pos.Offset):
				return 1
			}
			return 0
		})
		return rs
	}
	if again := e.readAll(pattern, transport.FromBeginning()); !slices.Equal(byPosition(again), byPosition(all)) {
		e.t.Errorf("a second Read from the beginning passed %v, want %v (Read must consume nothing)", again, all)
	}

	// A subscription's messages carry the same positions.
	byUUID := make(map[string]transport.Position)
	for _, r := range all {
		byUUID[r.uuid] = r.pos
	}
	for range 2 * n {
		msg := e.recv(s.ch, "a message of the group")
		pos, ok := transport.PositionFromContext(msg.Context())
		if !ok || pos != byUUID[msg.UUID] {
			e.t.Errorf("subscription: message %s at position %v (%v), Read gave %v", msg.UUID, pos, ok, byUUID[msg.UUID])
		}
		msg.Ack()
	}

	// From the position of pa's message 2: pa 3..n-1, and of pb what
	// is after that position (same partition) or everything (another).
	var at transport.Position
	for _, r := range all {
		if r.pkey == "pa" && r.payload == "2" {
			at = r.pos
		}
	}
	var wantAfter []string
	for _, r := range all {
		if !samePartition(r.pos, at) || offsetLess(at.Offset, r.pos.Offset) {
			wantAfter = append(wantAfter, r.uuid)
		}
	}
	var gotAfter []string
	after := e.readAll(pattern, transport.FromPosition(at))
	for _, r := range after {
		gotAfter = append(gotAfter, r.uuid)
	}
	slices.Sort(gotAfter)
	slices.Sort(wantAfter)
	if !slices.Equal(gotAfter, wantAfter) {
		e.t.Errorf("Read from position %v passed %d messages, want %d", at, len(gotAfter), len(wantAfter))
	}
	if got := payloads(after, "pa"); !slices.Equal(got, want(3, n)) {
		e.t.Errorf("Read from position %v, key pa: %v, want %v", at, got, want(3, n))
	}
	if got := e.readAll(pattern, transport.FromPosition(all[len(all)-1].pos)); len(got) > 0 && samePartition(got[0].pos, all[len(all)-1].pos) {
		e.t.Errorf("Read from the last position passed %v of its partition", got)
	}

	// From a time between two batches: the second only. The broker's
	// clock (or, on Kafka, the producer's) is this machine's: wait for
	// it to pass a millisecond boundary on either side of the cut.
	cut := time.Now().Add(time.Millisecond).Truncate(time.Millisecond)
	e.waitFor("the clock to pass the cut", func() bool { return time.Now().After(cut.Add(time.Millisecond)) })
	publishBatch(n)
	later := e.readAll(pattern, transport.FromTime(cut))
	for _, pk := range []string{"pa", "pb"} {
		if got := payloads(later, pk); !slices.Equal(got, want(n, 2*n)) {
			e.t.Errorf("Read from a time between the batches, key %s: %v, want %v", pk, got, want(n, 2*n))
		}
	}

	// A narrower pattern; fn returning false stops.
	if got := e.readAll(e.kind+".a.*", transport.FromBeginning()); len(payloads(got, "pb")) > 0 || !slices.Equal(payloads(got, "pa"), want(0, 2*n)) {
		e.t.Errorf("Read of %s.a.*: %v, want pa 0..%d only", e.kind, got, 2*n-1)
	}
	calls := 0
	err := transport.Read(e.opsCtx(), e.tr, pattern, transport.FromBeginning(), func(*message.Message) bool {
		calls++
		return calls < 3
	})
	if err != nil || calls != 3 {
		e.t.Errorf("Read whose func stops at the third message: %d calls, %v; want 3, nil", calls, err)
	}
	// More than a page of the drivers' reads (256), in order.
	many := make([]*message.Message, 600)
	for i := range many {
		many[i] = newMessage("pm", strconv.Itoa(i))
	}
	e.publish(e.kind+"m.x", many...)
	if got := payloads(e.readAll(e.kind+"m.#", transport.FromBeginning()), "pm"); !slices.Equal(got, want(0, len(many))) {
		e.t.Errorf("Read of %d messages of one key: %d passed, in order: %v", len(many), len(got), slices.Equal(got, want(0, len(got))))
	}
	if err := transport.Read(context.Background(), e.tr, e.kind+"x.#", transport.FromBeginning(), func(*message.Message) bool {
		e.t.Error("Read of a kind never published passed a message")
		return true
	}); err != nil {
		e.t.Errorf("Read of a kind never published: %v, want nil", err)
	}
}
