package transporttest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
)

// followWait bounds each wait of the Follow case: at least 30 s.
func (e *env) followWait() time.Duration { return max(e.caps.Timeout, 30*time.Second) }

// follower is one transport.Follow running on a goroutine of its own.
type follower struct {
	ch     chan read     // what it passed
	done   chan struct{} // closed when Follow returned, err set
	err    error
	cancel context.CancelFunc
}

// follow starts transport.Follow of pattern from from; it is cancelled
// and awaited at cleanup. A message without a Position fails the test.
func (e *env) follow(pattern string, from transport.From) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{ch: make(chan read, 4096), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(f.done)
		f.err = transport.Follow(ctx, e.tr, pattern, from, func(msg *message.Message) bool {
			pos, ok := transport.PositionFromContext(msg.Context())
			if !ok || pos.IsZero() {
				e.t.Errorf("Follow: message %s has no position in its context", msg.UUID)
			}
			select {
			case f.ch <- read{msg.UUID, msg.Metadata.Get("partitionkey"), string(msg.Payload), pos}:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(e.followWait()):
			e.t.Errorf("Follow of %s did not return %s after its ctx was cancelled", pattern, e.followWait())
		}
	})
	return f
}

// take returns the next n messages f passes, failing if Follow returns or
// the wait bound passes first.
func (e *env) take(f *follower, n int, what string) []read {
	e.t.Helper()
	timeout := time.After(e.followWait())
	var got []read
	for len(got) < n {
		select {
		case r := <-f.ch:
			got = append(got, r)
		case <-f.done:
			e.t.Fatalf("Follow returned %v after passing %d of %s, want it to go on", f.err, len(got), what)
		case <-timeout:
			e.t.Fatalf("timed out after %s waiting for %s: Follow passed %d of %d", e.followWait(), what, len(got), n)
		}
	}
	return got
}

// takeUntil returns what f passes up to and including the messages whose
// UUIDs are in until (all of them).
func (e *env) takeUntil(f *follower, until []string, what string) []read {
	e.t.Helper()
	left := make(map[string]bool)
	for _, id := range until {
		left[id] = true
	}
	var got []read
	for len(left) > 0 {
		r := e.take(f, 1, what)[0]
		delete(left, r.uuid)
		got = append(got, r)
	}
	return got
}

// checkRising fails unless every position of got is after the positions
// read before it in its partition.
func (e *env) checkRising(got []read, what string) {
	e.t.Helper()
	for i, r := range got {
		for _, q := range got[:i] {
			if samePartition(q.pos, r.pos) && !offsetLess(q.pos.Offset, r.pos.Offset) {
				e.t.Errorf("%s: position %v passed after %v of the same partition", what, r.pos, q.pos)
			}
		}
	}
}

// testFollow: on a transport that keeps history, transport.Follow passes
// the history and does not stop at the head: messages published later
// come too, per partition key in publish order, with positions rising
// within each partition, and nothing twice; from the positions where a
// batch ended it passes exactly what came after; fn returning false
// makes it return nil, a cancelled ctx an error wrapping
// context.Canceled; a stream that does not exist yet is waited for.
// Elsewhere Follow fails with ErrNotReplayable.
func testFollow(e *env) {
	e.portable()
	pattern := e.kind + ".#"
	if !e.caps.KeepsHistory {
		err := transport.Follow(e.opsCtx(), e.tr, pattern, transport.FromBeginning(), func(*message.Message) bool { return true })
		if !errors.Is(err, transport.ErrNotReplayable) {
			e.t.Fatalf("Follow on a transport without history: %v, want ErrNotReplayable", err)
		}
		return
	}
	const n = 10 // per key and batch
	keyA, keyB := e.kind+".a.x", e.kind+".b.x"
	publishBatch := func(first int) (uuids []string) {
		var as, bs []*message.Message
		for i := first; i < first+n; i++ {
			as = append(as, newMessage("pa", strconv.Itoa(i)))
			bs = append(bs, newMessage("pb", strconv.Itoa(i)))
		}
		e.publish(keyA, as...)
		e.publish(keyB, bs...)
		for _, m := range append(as, bs...) {
			uuids = append(uuids, m.UUID)
		}
		return uuids
	}
	want := func(from, to int) []string {
		var s []string
		for i := from; i < to; i++ {
			s = append(s, strconv.Itoa(i))
		}
		return s
	}
	checkKeys := func(got []read, from, to int, what string) {
		e.t.Helper()
		for _, pk := range []string{"pa", "pb"} {
			if p := payloads(got, pk); !slices.Equal(p, want(from, to)) {
				e.t.Errorf("%s, key %s: %v, want %v", what, pk, p, want(from, to))
			}
		}
	}
	uuidsOf := func(got []read) []string {
		var s []string
		for _, r := range got {
			s = append(s, r.uuid)
		}
		slices.Sort(s)
		return s
	}

	// The history, then what comes later.
	publishBatch(0)
	f := e.follow(pattern, transport.FromBeginning())
	first := e.take(f, 2*n, "the history")
	checkKeys(first, 0, n, "Follow from the beginning, the history")
	second := publishBatch(n)
	live := e.take(f, 2*n, "the messages published after the history was passed")
	checkKeys(live, n, 2*n, "Follow from the beginning, the live messages")
	e.checkRising(append(first, live...), "Follow from the beginning")
	if got, want := uuidsOf(live), slices.Sorted(slices.Values(second)); !slices.Equal(got, want) {
		e.t.Errorf("Follow passed %v after the history, want the second batch %v", got, want)
	}

	// From where the first batch ended: exactly the second batch (and then
	// the sentinels, one per key; nothing before them but the batch).
	last := make(map[string]transport.Position) // partition -> last position of the first batch
	for _, r := range first {
		last[r.pos.Stream+"/"+strconv.Itoa(int(r.pos.Partition))] = r.pos
	}
	var at []transport.Position
	for _, p := range last {
		at = append(at, p)
	}
	g := e.follow(pattern, transport.FromPosition(at...))
	sa, sb := newMessage("pa", "sentinel"), newMessage("pb", "sentinel")
	afterFirst := e.take(g, 2*n, "the second batch, followed from the end of the first")
	e.publish(keyA, sa)
	e.publish(keyB, sb)
	sentinels := []string{sa.UUID, sb.UUID}
	if got, want := uuidsOf(afterFirst), slices.Sorted(slices.Values(second)); !slices.Equal(got, want) {
		e.t.Errorf("Follow from %v passed %v, want the second batch %v", at, got, want)
	}
	if rest := e.takeUntil(g, sentinels, "the sentinels"); len(rest) != 2 {
		e.t.Errorf("Follow from %v passed %d messages after the second batch, want the 2 sentinels: %v", at, len(rest), rest)
	}
	checkKeys(afterFirst, n, 2*n, "Follow from the end of the first batch")
	// The first follower passed nothing twice: the sentinels come next.
	if rest := e.takeUntil(f, sentinels, "the sentinels"); len(rest) != 2 {
		e.t.Errorf("Follow from the beginning passed %d messages after the second batch, want the 2 sentinels: %v", len(rest), rest)
	}

	// fn returning false: nil.
	calls := 0
	err := transport.Follow(e.opsCtx(), e.tr, pattern, transport.FromBeginning(), func(*message.Message) bool {
		calls++
		return calls < 3
	})
	if err != nil || calls != 3 {
		e.t.Errorf("Follow whose func stops at the third message: %d calls, %v; want 3, nil", calls, err)
	}

	// A cancelled ctx: an error wrapping context.Canceled.
	f.cancel()
	select {
	case <-f.done:
		if !errors.Is(f.err, context.Canceled) {
			e.t.Errorf("Follow whose ctx was cancelled returned %v, want an error wrapping context.Canceled", f.err)
		}
	case <-time.After(e.followWait()):
		e.t.Fatalf("Follow did not return %s after its ctx was cancelled", e.followWait())
	}

	// A kind whose stream does not exist when Follow starts: markers are
	// published until the follower passes one, then one more message,
	// which it must pass after every marker, none missing. (Whether the
	// first marker comes before the follower first looks for the stream
	// is up to the scheduler; the drivers' own tests wait until it has
	// looked before publishing.)
	kind := e.kind + "n"
	h := e.follow(kind+".#", transport.FromBeginning())
	var markers []string
	deadline := time.After(e.followWait())
	var seen []read
	for len(seen) == 0 {
		m := newMessage("pn", "marker"+strconv.Itoa(len(markers)))
		e.publish(kind+".x", m)
		markers = append(markers, string(m.Payload))
		select {
		case r := <-h.ch:
			seen = append(seen, r)
		case <-h.done:
			e.t.Fatalf("Follow of a kind without a stream returned %v, want it to wait for the stream", h.err)
		case <-deadline:
			e.t.Fatalf("Follow of a kind without a stream passed none of the %d markers published within %s", len(markers), e.followWait())
		case <-time.After(100 * time.Millisecond): // publish another marker
		}
	}
	final := newMessage("pn", "final")
	e.publish(kind+".x", final)
	seen = append(seen, e.takeUntil(h, []string{final.UUID}, "the message published after the follower passed a marker")...)
	if got := payloads(seen, "pn"); !slices.Equal(got, append(markers, "final")) {
		e.t.Errorf("Follow of a kind without a stream passed %v, want %v", got, append(markers, "final"))
	}
}
