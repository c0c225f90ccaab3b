package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/kafka"
)

const waitLimit = 20 * time.Second

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newMsg(pkey, payload string) *message.Message {
	msg := message.NewMessage(uuid.NewString(), []byte(payload))
	msg.Metadata.Set(events.MetaPartitionKey, pkey)
	return msg
}

func publish(t *testing.T, tr *testTransport, key string, msgs ...*message.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for _, m := range msgs {
		m.SetContext(ctx)
	}
	if err := tr.Publisher().Publish(key, msgs...); err != nil {
		t.Fatalf("Publish(%q): %v", key, err)
	}
}

func subscribe(t *testing.T, tr *testTransport, group, pattern string) (<-chan *message.Message, context.CancelFunc) {
	t.Helper()
	sub, err := tr.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", pattern, err)
	}
	return ch, cancel
}

func recv(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return msg
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

// committed returns the group's committed offset of partition 0.
func committed(t *testing.T, tr *testTransport, group, pattern string) (committed, lag int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	lags, err := tr.Lag(ctx, group, pattern)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if len(lags) != 1 {
		t.Fatalf("Lag: %d partitions, want 1", len(lags))
	}
	return lags[0].Committed, lags[0].Lag
}

// TestCommitOnlyAckedPrefix: with one message unacked, later acked
// messages of other keys are not committed past it; acking it commits
// everything; a member that goes away with messages unacked leaves them to
// the next member, and nothing before them is delivered again.
func TestCommitOnlyAckedPrefix(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(1))
	kind := randomName("k")
	pattern := kind + ".#"
	group := randomName("g")
	ch, cancel := subscribe(t, tr, group, pattern)

	keys := []string{"A", "B", "C", "B", "C", "D"}
	sent := make([]*message.Message, len(keys))
	for i, k := range keys {
		sent[i] = newMsg(k, strconv.Itoa(i))
		publish(t, tr, kind+".x."+k, sent[i])
	}
	var held *message.Message
	for range keys {
		msg := recv(t, ch)
		if msg.UUID == sent[0].UUID {
			held = msg
			continue
		}
		msg.Ack()
	}
	if held == nil {
		t.Fatal("message 0 not delivered")
	}
	// Offsets 1..5 are acked, 0 is not: several commit intervals later
	// nothing is committed.
	time.Sleep(500 * time.Millisecond)
	if c, lag := committed(t, tr, group, pattern); c != -1 || lag != 6 {
		t.Fatalf("committed %d lag %d with offset 0 unacked, want -1 and 6", c, lag)
	}
	held.Ack()
	waitFor(t, "commit of offset 6 after acking offset 0", func() bool {
		c, lag := committed(t, tr, group, pattern)
		return c == 6 && lag == 0
	})

	// Offset 6 held, 7 acked, then the member goes away.
	e, f := newMsg("E", "6"), newMsg("F", "7")
	publish(t, tr, kind+".x.E", e)
	publish(t, tr, kind+".x.F", f)
	for range 2 {
		if msg := recv(t, ch); msg.UUID == f.UUID {
			msg.Ack()
		}
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	for range ch { //nolint:revive // drain until closed
	}
	if c, _ := committed(t, tr, group, pattern); c != 6 {
		t.Fatalf("committed %d after the member left with offset 6 unacked, want 6", c)
	}
	// The next member gets offsets 6 and 7 (7 was acked after the gap, so
	// it comes again) and nothing before them. E and F are different keys:
	// the core hands them out concurrently, in either order.
	ch2, _ := subscribe(t, tr, group, pattern)
	got := map[string]bool{}
	for range 2 {
		m := recv(t, ch2)
		if m.UUID != e.UUID && m.UUID != f.UUID {
			t.Fatalf("next member got %s (payload %s), want the unacked offset 6 and the offset 7 after it", m.UUID, m.Payload)
		}
		got[m.UUID] = true
		m.Ack()
	}
	if !got[e.UUID] || !got[f.UUID] {
		t.Fatalf("next member got %v, want offsets 6 and 7 once each", got)
	}
	waitFor(t, "commit of offset 8", func() bool {
		c, lag := committed(t, tr, group, pattern)
		return c == 8 && lag == 0
	})
}

// TestNackRedeliversInLane: a nacked message comes back (after a backoff)
// before later messages of its key, while other keys of the same partition
// go on; the offset is committed only once it is acked.
func TestNackRedeliversInLane(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(1),
		transport.WithRedeliveryBackoff(20*time.Millisecond, 50*time.Millisecond))
	kind := randomName("k")
	pattern := kind + ".#"
	group := randomName("g")
	ch, _ := subscribe(t, tr, group, pattern)

	publish(t, tr, kind+".x.A", newMsg("A", "A0"))
	publish(t, tr, kind+".x.A", newMsg("A", "A1"))
	for i := range 3 {
		publish(t, tr, kind+".x.B", newMsg("B", "B"+strconv.Itoa(i)))
	}
	var (
		order  []string
		nacks  int
		bDone  int
		bFirst = -1
	)
	for len(order) < 5+3 {
		msg := recv(t, ch)
		p := string(msg.Payload)
		order = append(order, p)
		switch {
		case p == "A0" && nacks < 3:
			nacks++
			msg.Nack()
		case p[0] == 'B':
			bDone++
			if bFirst < 0 {
				bFirst = nacks
			}
			msg.Ack()
		default:
			msg.Ack()
		}
	}
	var aOrder []string
	for _, p := range order {
		if p[0] == 'A' {
			aOrder = append(aOrder, p)
		}
	}
	if want := []string{"A0", "A0", "A0", "A0", "A1"}; fmt.Sprint(aOrder) != fmt.Sprint(want) {
		t.Errorf("key A delivered %v, want %v", aOrder, want)
	}
	if bDone != 3 {
		t.Errorf("key B delivered %d times, want 3", bDone)
	}
	t.Logf("delivery order %v", order)
	waitFor(t, "commit of everything", func() bool {
		c, lag := committed(t, tr, group, pattern)
		return c == 5 && lag == 0
	})
}

// TestRebalanceKeepsOrder: a second member joins and the first leaves
// while events stream in; every event is handled, each key in order, and
// a rebalance hands over without handling anything twice.
func TestRebalanceKeepsOrder(t *testing.T) {
	brokers := testBrokers(t)
	tr := newTransport(t, brokers, kafka.WithPartitions(4), kafka.WithGroupTimeouts(6*time.Second, 100*time.Millisecond))
	kind := randomName("k")
	pattern := kind + ".#"
	group := randomName("g")
	const nKeys, perKey = 8, 150

	var (
		mu      sync.Mutex
		last    = map[string]int{}
		seen    = map[string]int{}
		handled int
		byMem   [2]int
	)
	handle := func(member int, ch <-chan *message.Message) {
		for msg := range ch {
			key := msg.Metadata.Get(events.MetaPartitionKey)
			seq, _ := strconv.Atoi(string(msg.Payload))
			mu.Lock()
			seen[msg.UUID]++
			if seen[msg.UUID] == 1 {
				if prev, ok := last[key]; ok && seq != prev+1 {
					t.Errorf("key %s: %d handled after %d", key, seq, prev)
				} else if !ok && seq != 0 {
					t.Errorf("key %s: first handled %d", key, seq)
				}
				last[key] = seq
				handled++
				byMem[member]++
			}
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
			msg.Ack()
		}
	}
	sub1, err := tr.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ch1, err := sub1.Subscribe(context.Background(), pattern)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { handle(0, ch1) })

	var member2 <-chan *message.Message
	for seq := range perKey {
		for k := range nKeys {
			sym := "S" + strconv.Itoa(k)
			publish(t, tr, kind+".v."+sym, newMsg(sym, strconv.Itoa(seq)))
		}
		switch seq {
		case perKey / 3:
			member2, _ = subscribe(t, tr, group, pattern)
			wg.Go(func() { handle(1, member2) })
		case 2 * perKey / 3:
			go func() { _ = sub1.Close() }()
		}
	}
	waitFor(t, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled == nKeys*perKey
	})
	mu.Lock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("member 1 handled %d, member 2 handled %d, %d handled twice", byMem[0], byMem[1], dups)
	if byMem[1] == 0 {
		t.Error("the second member handled nothing")
	}
	if dups != 0 {
		t.Errorf("%d events handled twice across the rebalances", dups)
	}
	mu.Unlock()
	_ = sub1.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestRevokeAbandonsHeldMessages: a member holds messages unacked when a
// rebalance takes one of its partitions; after WithRevokeTimeout it lets
// that partition go uncommitted and the new owner gets exactly those
// messages, while the partition it keeps stays its own. The old member's
// late acks of the moved partition are dropped; its acks of the kept one
// are committed.
func TestRevokeAbandonsHeldMessages(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(2),
		kafka.WithRevokeTimeout(300*time.Millisecond), kafka.WithGroupTimeouts(6*time.Second, 100*time.Millisecond))
	kind := randomName("k")
	pattern := kind + ".#"
	group := randomName("g")
	ch1, _ := subscribe(t, tr, group, pattern)
	const n = 12
	for i := range n {
		sym := "S" + strconv.Itoa(i)
		publish(t, tr, kind+".v."+sym, newMsg(sym, strconv.Itoa(i)))
	}
	held := make([]*message.Message, 0, n)
	for range n {
		held = append(held, recv(t, ch1))
	}

	var (
		mu  sync.Mutex
		got = map[string]bool{}
	)
	ch2, _ := subscribe(t, tr, group, pattern)
	go func() {
		for msg := range ch2 {
			mu.Lock()
			got[msg.UUID] = true
			mu.Unlock()
			msg.Ack()
		}
	}()
	waitFor(t, "the second member to get the abandoned messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	// The partition moved whole: wait until member 2 has all of it,
	// i.e. until the group's lag is only member 1's held partition.
	lagOf := func() (total int64, parts int) {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		lags, err := tr.Lag(ctx, group, pattern)
		if err != nil {
			t.Fatalf("Lag: %v", err)
		}
		for _, l := range lags {
			total += l.Lag
			if l.Lag > 0 {
				parts++
			}
		}
		return total, parts
	}
	waitFor(t, "member 2 to commit the moved partition", func() bool {
		_, parts := lagOf()
		return parts == 1
	})
	mu.Lock()
	moved := len(got)
	for uuid := range got {
		found := false
		for _, msg := range held {
			found = found || msg.UUID == uuid
		}
		if !found {
			t.Errorf("member 2 got %s, which member 1 never held", uuid)
		}
	}
	mu.Unlock()
	if total, _ := lagOf(); moved == 0 || moved == n || int(total) != n-moved {
		t.Errorf("member 2 got %d of %d, lag %d: want one partition's messages moved", moved, n, total)
	}
	for _, msg := range held {
		msg.Ack()
	}
	waitFor(t, "member 1's acks of the partition it kept to be committed", func() bool {
		total, _ := lagOf()
		return total == 0
	})
	t.Logf("member 2 got %d of %d", moved, n)
}
