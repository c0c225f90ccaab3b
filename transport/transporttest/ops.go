package transporttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
)

// GroupStateFunc reports, asking the broker with its own client (not
// through the driver), whether the broker-side state of (group, pattern)
// exists: the RabbitMQ queue, the Kafka consumer group, the Redis
// consumer group, the JetStream durable consumer. It fails t if the
// broker cannot be asked.
type GroupStateFunc func(t *testing.T, tr transport.Transport, group, pattern string) bool

// opsCtx is a context bounded by the suite timeout.
func (e *env) opsCtx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	e.t.Cleanup(cancel)
	return ctx
}

// backlog is what a group still has to handle: Unacked where the broker
// reports it, else Pending (RabbitMQ reports only ready messages).
func backlog(l transport.GroupLag) int64 {
	if l.Unacked != transport.Unknown {
		return l.Unacked
	}
	return l.Pending
}

// lag returns transport.Lag of (group, pattern), failing on error.
func (e *env) lag(group, pattern string) transport.GroupLag {
	e.t.Helper()
	l, err := transport.Lag(e.opsCtx(), e.tr, group, pattern)
	if err != nil {
		e.t.Fatalf("Lag(%q, %q): %v", group, pattern, err)
	}
	return l
}

// waitLag polls Lag until ok holds or the suite timeout passes.
func (e *env) waitLag(what, group, pattern string, ok func(transport.GroupLag) bool) transport.GroupLag {
	e.t.Helper()
	var last transport.GroupLag
	var lastErr error
	e.waitForOr(what, func() bool {
		last, lastErr = transport.Lag(e.opsCtx(), e.tr, group, pattern)
		return lastErr == nil && ok(last)
	}, func() string { return fmt.Sprintf("last Lag: %+v, %v", last, lastErr) })
	return last
}

// waitForOr is waitFor with a description of the last state on timeout.
func (e *env) waitForOr(what string, cond func() bool, last func() string) {
	e.t.Helper()
	done := false
	defer func() {
		if !done {
			e.t.Log(last())
		}
	}()
	e.waitFor(what, cond)
	done = true
}

// publishSeq publishes n messages of partition key "p" to key and returns
// them.
func (e *env) publishSeq(key string, n int) []*message.Message {
	e.t.Helper()
	msgs := make([]*message.Message, n)
	for i := range msgs {
		msgs[i] = newMessage("p", strconv.Itoa(i))
	}
	e.publish(key, msgs...)
	return msgs
}

// ackFirst subscribes group to pattern, acks the first k messages (of one
// partition key, so they arrive one after the other in order), holds the
// next one while during runs, then cancels the subscription, gives the
// held message back and closes the subscriber: the group has no member
// when it returns.
func (e *env) ackFirst(group, pattern string, k int, during func()) {
	e.t.Helper()
	sub, err := e.tr.Subscriber(group)
	if err != nil {
		e.t.Fatalf("Subscriber(%q): %v", group, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		e.t.Fatalf("Subscribe(%q): %v", pattern, err)
	}
	for i := range k {
		e.recv(ch, "message "+strconv.Itoa(i)).Ack()
	}
	held := e.recv(ch, "message "+strconv.Itoa(k))
	if during != nil {
		during()
	}
	cancel()
	held.Nack()
	e.waitClosed(ch, "after its subscription ctx was cancelled")
	if err := sub.Close(); err != nil {
		e.t.Fatalf("Subscriber.Close: %v", err)
	}
}

// testPing: Ping answers nil on a live transport; during an outage
// (Capabilities.Outage) it fails and once the broker is back it answers
// again; after Close it returns ErrClosed.
func testPing(e *env) {
	if err := e.tr.Ping(e.opsCtx()); err != nil {
		e.t.Fatalf("Ping: %v", err)
	}
	if e.caps.Outage != nil {
		restore := e.caps.Outage(e.t)
		e.waitFor("Ping to fail while the broker is away", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout/4)
			defer cancel()
			return e.tr.Ping(ctx) != nil
		})
		restore()
		e.waitFor("Ping to answer once the broker is back", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout/4)
			defer cancel()
			return e.tr.Ping(ctx) == nil
		})
	}
	if err := e.tr.Close(e.opsCtx()); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	if err := e.tr.Ping(e.opsCtx()); !errors.Is(err, transport.ErrClosed) {
		e.t.Errorf("Ping after Close: %v, want transport.ErrClosed", err)
	}
}

// testLag: a group with no member that was sent N messages reports a
// backlog of N (nothing in flight); while a member has acked k and holds
// the next, the backlog is N-k with at least that one in flight; with the
// member gone it is N-k. Counts the broker does not report are Unknown,
// and every known one adds up.
func testLag(e *env) {
	e.portable()
	const n, k = 10, 4
	group, pattern := UniqueName("g"), e.kind+".#"
	sub, err := e.tr.Subscriber(group)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize(pattern); err != nil {
		e.t.Fatalf("SubscribeInitialize: %v", err)
	}
	_ = sub.Close()
	consistent := func(l transport.GroupLag) error {
		if l.Pending == transport.Unknown && l.Unacked == transport.Unknown {
			return fmt.Errorf("neither Pending nor Unacked known: %+v", l)
		}
		for name, v := range map[string]int64{"Pending": l.Pending, "InFlight": l.InFlight, "Unacked": l.Unacked} {
			if v < transport.Unknown {
				return fmt.Errorf("%s = %d", name, v)
			}
		}
		if l.Pending != transport.Unknown && l.InFlight != transport.Unknown && l.Pending+l.InFlight != l.Unacked {
			return fmt.Errorf("Pending %d + InFlight %d != Unacked %d", l.Pending, l.InFlight, l.Unacked)
		}
		if l.Partitions != nil && l.Unacked != transport.Unknown {
			var sum int64
			for _, p := range l.Partitions {
				sum += p.Lag
			}
			if sum != l.Unacked {
				return fmt.Errorf("partition lags add up to %d, Unacked is %d", sum, l.Unacked)
			}
		}
		return nil
	}
	check := func(l transport.GroupLag) {
		e.t.Helper()
		if err := consistent(l); err != nil {
			e.t.Errorf("Lag: %v", err)
		}
		for name, v := range map[string]int64{"Pending": l.Pending, "InFlight": l.InFlight, "Unacked": l.Unacked} {
			if unknown := slices.Contains(e.caps.LagUnknown, name); unknown != (v == transport.Unknown) {
				e.t.Errorf("Lag: %s = %d, but Capabilities.LagUnknown = %q", name, v, e.caps.LagUnknown)
			}
		}
		if (l.Partitions != nil) != e.caps.LagPartitions {
			e.t.Errorf("Lag: Partitions %+v, but Capabilities.LagPartitions = %v", l.Partitions, e.caps.LagPartitions)
		}
	}

	l := e.lag(group, pattern)
	check(l)
	if backlog(l) != 0 {
		e.t.Errorf("Lag before any publish: %+v, want a backlog of 0", l)
	}
	e.publishSeq(events.Key(e.kind, "venue", "p"), n)
	l = e.waitLag(fmt.Sprintf("a backlog of %d with the consumer stopped", n), group, pattern, func(l transport.GroupLag) bool {
		return backlog(l) == n
	})
	check(l)
	if l.InFlight != transport.Unknown && l.InFlight != 0 {
		e.t.Errorf("Lag with no member: InFlight %d, want 0", l.InFlight)
	}
	if l.Pending != transport.Unknown && l.Pending != n {
		e.t.Errorf("Lag with no member: Pending %d, want %d", l.Pending, n)
	}

	e.ackFirst(group, pattern, k, func() {
		l := e.waitLag(fmt.Sprintf("%d acked, one held", k), group, pattern, func(l transport.GroupLag) bool {
			switch {
			case l.Unacked != transport.Unknown:
				return l.Unacked == n-k && (l.InFlight == transport.Unknown || l.InFlight >= 1)
			default: // only Pending known: the held message is not pending
				return l.Pending <= n-k-1
			}
		})
		check(l)
	})
	l = e.waitLag(fmt.Sprintf("a backlog of %d after %d acked and the member gone", n-k, k), group, pattern, func(l transport.GroupLag) bool {
		return backlog(l) == n-k
	})
	check(l)
}

// testDeleteGroup: DeleteGroup removes the broker-side state of one group
// (checked with the broker's own client, Capabilities.GroupState) and
// leaves another group of the same pattern, and the messages kept for it,
// untouched; a deleted group reports ErrGroupNotFound or what a group
// that never existed reports, a second delete gives ErrGroupNotFound, and
// a new subscription of it receives exactly what one of a brand-new group
// receives. DeleteGroup of a group subscribed on this transport gives
// ErrGroupInUse and deletes nothing.
func testDeleteGroup(e *env) {
	e.portable()
	const n = 3
	pattern := e.kind + ".#"
	gone, kept, fresh := UniqueName("g"), UniqueName("g"), UniqueName("g")
	for _, g := range []string{gone, kept} {
		sub, err := e.tr.Subscriber(g)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := sub.(message.SubscribeInitializer).SubscribeInitialize(pattern); err != nil {
			e.t.Fatalf("SubscribeInitialize: %v", err)
		}
		_ = sub.Close()
	}
	key := events.Key(e.kind, "venue", "p")
	msgs := e.publishSeq(key, n)
	// Each group acks the first message and gives the others back.
	for _, g := range []string{gone, kept} {
		e.ackFirst(g, pattern, 1, nil)
		e.waitLag(g+" to have handled one message", g, pattern, func(l transport.GroupLag) bool { return backlog(l) == n-1 })
	}
	state := func(g string) bool {
		e.t.Helper()
		if e.caps.GroupState == nil {
			return false
		}
		return e.caps.GroupState(e.t, e.tr, g, pattern)
	}
	if e.caps.GroupState != nil && (!state(gone) || !state(kept)) {
		e.t.Fatalf("before DeleteGroup the broker has no state for a group that consumed (GroupState %v, %v)", state(gone), state(kept))
	}

	ctx := e.opsCtx()
	// A broker may count a member that left for a moment longer
	// (RabbitMQ's quorum queues): ErrGroupInUse is retried.
	var err error
	e.waitFor("DeleteGroup to find the group unused", func() bool {
		err = transport.DeleteGroup(ctx, e.tr, gone, pattern)
		return !errors.Is(err, transport.ErrGroupInUse)
	})
	if err != nil {
		e.t.Fatalf("DeleteGroup: %v", err)
	}
	if state(gone) {
		e.t.Errorf("the broker still has state of group %s after DeleteGroup", gone)
	}
	if e.caps.GroupState != nil && !state(kept) {
		e.t.Errorf("DeleteGroup of %s removed the state of group %s", gone, kept)
	}
	if err := transport.DeleteGroup(ctx, e.tr, gone, pattern); !errors.Is(err, transport.ErrGroupNotFound) {
		e.t.Errorf("second DeleteGroup: %v, want transport.ErrGroupNotFound", err)
	}
	if l, err := transport.Lag(ctx, e.tr, gone, pattern); err == nil {
		if never := e.lag(fresh, pattern); backlog(l) != backlog(never) {
			e.t.Errorf("Lag of the deleted group %+v, of a group that never existed %+v", l, never)
		}
	} else if !errors.Is(err, transport.ErrGroupNotFound) {
		e.t.Errorf("Lag of the deleted group: %v, want transport.ErrGroupNotFound or what a new group reports", err)
	}
	if l := e.lag(kept, pattern); backlog(l) != n-1 {
		e.t.Errorf("Lag of the other group after DeleteGroup: %+v, want a backlog of %d", l, n-1)
	}

	// A subscribed group is in use.
	sk := e.subscribe(kept, pattern)
	if err := transport.DeleteGroup(ctx, e.tr, kept, pattern); !errors.Is(err, transport.ErrGroupInUse) {
		e.t.Errorf("DeleteGroup of a subscribed group: %v, want transport.ErrGroupInUse", err)
	}
	// The deleted group starts as a brand-new one.
	sg, sf := e.subscribe(gone, pattern), e.subscribe(fresh, pattern)
	last := newMessage("p", "sentinel")
	e.publish(key, last)
	until := func(s *subscription, name string) []string {
		var ids []string
		for {
			m := e.recv(s.ch, name+": messages up to the sentinel")
			m.Ack()
			ids = append(ids, m.UUID)
			if m.UUID == last.UUID {
				return ids
			}
		}
	}
	// Sets, not sequences: the order in which a broker redelivers what a
	// member gave back is its own (the new groups had nothing given back,
	// so the sentinel comes last for them).
	sorted := func(ids []string) []string { slices.Sort(ids); return ids }
	if got, want := sorted(until(sg, "deleted group")), sorted(until(sf, "new group")); !slices.Equal(got, want) {
		e.t.Errorf("the re-created group received %q, a new group %q", got, want)
	}
	want := sorted([]string{msgs[1].UUID, msgs[2].UUID, last.UUID})
	var got []string
	for range want {
		m := e.recv(sk.ch, "other group: the 2 messages it had left and the sentinel")
		m.Ack()
		got = append(got, m.UUID)
	}
	if got = sorted(got); !slices.Equal(got, want) {
		e.t.Errorf("the other group received %q after DeleteGroup, want the 2 it had left and the sentinel %q", got, want)
	}
}

// testOpsInvalid: the operations validate their arguments, and fail with
// ErrClosed after Close.
func testOpsInvalid(e *env) {
	e.portable()
	ctx := e.opsCtx()
	if _, err := transport.Lag(ctx, e.tr, "a.b", e.kind+".#"); !errors.Is(err, transport.ErrInvalidGroup) {
		e.t.Errorf("Lag with an invalid group: %v, want transport.ErrInvalidGroup", err)
	}
	if err := transport.DeleteGroup(ctx, e.tr, "g", e.kind+".a b"); !errors.Is(err, events.ErrInvalidRoutingKey) {
		e.t.Errorf("DeleteGroup with an invalid pattern: %v, want events.ErrInvalidRoutingKey", err)
	}
	if err := transport.DeleteGroup(ctx, e.tr, UniqueName("g"), e.kind+".#"); !errors.Is(err, transport.ErrGroupNotFound) {
		e.t.Errorf("DeleteGroup of a group that never existed: %v, want transport.ErrGroupNotFound", err)
	}
	if l, err := transport.Lag(ctx, e.tr, UniqueName("g"), e.kind+".#"); err == nil && backlog(l) != 0 {
		e.t.Errorf("Lag of a group that never existed on a kind never used: %+v, want ErrGroupNotFound or a backlog of 0", l)
	} else if err != nil && !errors.Is(err, transport.ErrGroupNotFound) {
		e.t.Errorf("Lag of a group that never existed: %v, want transport.ErrGroupNotFound", err)
	}
	if err := e.tr.Close(ctx); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	if _, err := transport.Lag(ctx, e.tr, "g", e.kind+".#"); !errors.Is(err, transport.ErrClosed) {
		e.t.Errorf("Lag after Close: %v, want transport.ErrClosed", err)
	}
	if err := transport.DeleteGroup(ctx, e.tr, "g", e.kind+".#"); !errors.Is(err, transport.ErrClosed) {
		e.t.Errorf("DeleteGroup after Close: %v, want transport.ErrClosed", err)
	}
}
