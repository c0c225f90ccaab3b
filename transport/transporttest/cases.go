package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/events"
)

// routeCase publishes keys (all with partition key "p", one after the
// other) and then sentinel to a fresh group subscribed to pattern, and
// checks that exactly the keys marked true arrive, in publish order,
// followed by the sentinel. Since all share one partition key, a
// non-matching message delivered by mistake would arrive before the
// sentinel.
func (e *env) routeCase(pattern string, keys []string, match []bool, sentinel string) {
	e.t.Helper()
	s := e.subscribe(UniqueName("g"), pattern)
	rec := newRecord()
	e.consume(s, func(msg *message.Message, _ <-chan struct{}) {
		rec.add(msg)
		msg.Ack()
	})
	var want []string
	for i, key := range keys {
		msg := newMessage("p", strconv.Itoa(i))
		e.publish(key, msg)
		if match[i] {
			want = append(want, key)
		}
	}
	last := newMessage("p", "sentinel")
	e.publish(sentinel, last)
	want = append(want, sentinel)

	e.waitFor(fmt.Sprintf("sentinel %q on pattern %q", sentinel, pattern), func() bool {
		return rec.count(last.UUID) > 0
	})
	var got []string
	for _, msg := range rec.snapshot() {
		got = append(got, msg.Metadata.Get(events.MetaRoutingKey))
	}
	if !slices.Equal(got, want) {
		e.t.Errorf("pattern %q: delivered routing keys (in order)\n got %q\nwant %q", pattern, got, want)
	}
}

func testPublishSubscribe(e *env) {
	k := e.kind
	target := events.Key(k, "binance", "BTCUSDT")
	e.routeCase(target,
		[]string{
			events.Key(k, "binance", "ETHUSDT"),
			target,
			events.Key(k, "coinbase", "BTCUSDT"),
			events.Key(k, "binance", "BTCUSDT", "x"),
			events.Key(k, "binance"),
			target,
			events.Key(UniqueName("tt"), "binance", "BTCUSDT"),
		},
		[]bool{false, true, false, false, false, true, false},
		target)
}

func testWildcards(e *env) {
	cases := []struct {
		name    string
		pattern func(k string) string
		keys    func(k string) []string
		match   []bool
		last    func(k string) string
	}{
		{
			name:    "star one segment",
			pattern: func(k string) string { return k + ".*.BTCUSDT" },
			keys: func(k string) []string {
				return []string{k + ".binance.BTCUSDT", k + ".coinbase.BTCUSDT", k + ".binance.ETHUSDT",
					k + ".BTCUSDT", k + ".a.b.BTCUSDT", k + ".binance.BTCUSDT.x"}
			},
			match: []bool{true, true, false, false, false, false},
			last:  func(k string) string { return k + ".kraken.BTCUSDT" },
		},
		{
			name:    "star last",
			pattern: func(k string) string { return k + ".*" },
			keys:    func(k string) []string { return []string{k + ".a", k, k + ".a.b", k + ".b"} },
			match:   []bool{true, false, false, true},
			last:    func(k string) string { return k + ".z" },
		},
		{
			name:    "two stars",
			pattern: func(k string) string { return k + ".*.*" },
			keys:    func(k string) []string { return []string{k + ".a.b", k + ".a", k + ".a.b.c", k} },
			match:   []bool{true, false, false, false},
			last:    func(k string) string { return k + ".y.z" },
		},
		{
			name:    "hash after kind, zero or more",
			pattern: func(k string) string { return k + ".#" },
			keys: func(k string) []string {
				return []string{k, k + ".a", k + ".a.b.c", UniqueName("tt") + ".a", k + "x.a"}
			},
			match: []bool{true, true, true, false, false},
			last:  func(k string) string { return k + ".z" },
		},
		{
			name:    "hash at end",
			pattern: func(k string) string { return k + ".binance.#" },
			keys: func(k string) []string {
				return []string{k + ".binance", k + ".binance.BTCUSDT", k + ".binance.a.b",
					k + ".coinbase.BTCUSDT", k + ".binancex", k}
			},
			match: []bool{true, true, true, false, false, false},
			last:  func(k string) string { return k + ".binance.end" },
		},
		{
			name:    "hash in the middle",
			pattern: func(k string) string { return k + ".#.BTCUSDT" },
			keys: func(k string) []string {
				return []string{k + ".BTCUSDT", k + ".binance.BTCUSDT", k + ".a.b.BTCUSDT",
					k + ".binance.ETHUSDT", k + ".BTCUSDT.x", k}
			},
			match: []bool{true, true, true, false, false, false},
			last:  func(k string) string { return k + ".y.BTCUSDT" },
		},
	}
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			sub := &env{t: t, tr: e.tr, caps: e.caps, kind: UniqueName("tt")}
			k := sub.kind
			sub.routeCase(tc.pattern(k), tc.keys(k), tc.match, tc.last(k))
		})
	}
}

// publishSymbols publishes perKey messages for each of nKeys symbols
// (partition key = symbol, payload = sequence), interleaved, one Publish
// per message. It returns every message by UUID.
func (e *env) publishSymbols(nKeys, perKey int) map[string]*message.Message {
	e.t.Helper()
	all := make(map[string]*message.Message, nKeys*perKey)
	for seq := range perKey {
		for i := range nKeys {
			sym := fmt.Sprintf("SYM%d", i)
			msg := newMessage(sym, strconv.Itoa(seq))
			all[msg.UUID] = msg
			e.publish(events.Key(e.kind, "venue", sym), msg)
		}
	}
	return all
}

func testGroupsEachGetAll(e *env) {
	pattern := e.kind + ".#"
	recs := []*record{newRecord(), newRecord()}
	for _, rec := range recs {
		s := e.subscribe(UniqueName("g"), pattern)
		e.consume(s, func(msg *message.Message, _ <-chan struct{}) {
			rec.add(msg)
			msg.Ack()
		})
	}
	sent := e.publishSymbols(5, 10)
	for i, rec := range recs {
		e.waitFor(fmt.Sprintf("group %d to receive %d messages", i, len(sent)), func() bool {
			return rec.unique() >= len(sent)
		})
		for id := range sent {
			if n := rec.count(id); n != 1 {
				e.t.Errorf("group %d handled message %s %d times, want 1", i, id, n)
			}
		}
		if n := rec.unique(); n != len(sent) {
			e.t.Errorf("group %d received %d distinct messages, want %d (foreign messages?)", i, n, len(sent))
		}
	}
}

func testGroupMembersShare(e *env) {
	group := UniqueName("g")
	pattern := e.kind + ".#"
	var (
		mu      sync.Mutex
		lastSeq = map[string]int{}
	)
	recs := []*record{newRecord(), newRecord()}
	for _, rec := range recs {
		s := e.subscribe(group, pattern) // a separate Subscriber per member
		e.consume(s, func(msg *message.Message, _ <-chan struct{}) {
			rec.add(msg)
			if e.caps.OrderAcrossMembers {
				key := msg.Metadata.Get(events.MetaPartitionKey)
				seq, _ := strconv.Atoi(string(msg.Payload))
				mu.Lock()
				if prev, ok := lastSeq[key]; ok && seq <= prev {
					e.t.Errorf("key %s: sequence %d handled after %d (order across group members)", key, seq, prev)
				}
				lastSeq[key] = seq
				mu.Unlock()
			}
			msg.Ack()
		})
	}
	if e.caps.ConsumerGroupShare {
		// Both members receive, each a message of its own: keep
		// publishing warm-up messages (one at a time) until they have.
		warm := 0
		e.waitFor("each member to receive a warm-up message", func() bool {
			n0, n1 := recs[0].unique(), recs[1].unique()
			if n0 > 0 && n1 > 0 {
				return true
			}
			if n0+n1 < warm {
				return false // the last one is still on its way
			}
			sym := fmt.Sprintf("WARM%d", warm)
			warm++
			e.publish(events.Key(e.kind, "venue", sym), newMessage(sym, "0"))
			return false
		})
	}
	sent := e.publishSymbols(20, 10)
	e.waitFor(fmt.Sprintf("the group to handle %d messages", len(sent)), func() bool {
		seen := map[string]bool{}
		for _, rec := range recs {
			for _, m := range rec.snapshot() {
				if sent[m.UUID] != nil {
					seen[m.UUID] = true
				}
			}
		}
		return len(seen) >= len(sent)
	})
	for id := range sent {
		if n := recs[0].count(id) + recs[1].count(id); n != 1 {
			e.t.Errorf("message %s handled %d times by the group's members, want 1", id, n)
		}
	}
	// Sharing is both members receiving: the warm-up waits for that (a
	// burst of 200 on mem can go to whichever member the machine runs
	// first; the counts below include the warm-up).
	n0, n1 := recs[0].unique(), recs[1].unique()
	e.t.Logf("member 0 handled %d, member 1 handled %d", n0, n1)
	if e.caps.ConsumerGroupShare && (n0 == 0 || n1 == 0) {
		e.t.Errorf("members did not share the load: %d and %d messages", n0, n1)
	}
}

func testOrderPerKey(e *env) {
	const nKeys, perKey = 8, 40
	var (
		mu           sync.Mutex
		last         = map[string]int{}
		inFlight     = map[string]int{}
		active       int
		maxActive    int
		handled      int
		parallelSeen = make(chan struct{})
	)
	s := e.subscribe(UniqueName("g"), e.kind+".#")
	e.consume(s, func(msg *message.Message, stop <-chan struct{}) {
		key := msg.Metadata.Get(events.MetaPartitionKey)
		seq, err := strconv.Atoi(string(msg.Payload))
		if err != nil {
			e.t.Errorf("foreign payload %q", msg.Payload)
			msg.Ack()
			return
		}
		mu.Lock()
		if inFlight[key] > 0 {
			e.t.Errorf("key %s: sequence %d handed out while another message of the key was in flight", key, seq)
		}
		inFlight[key]++
		active++
		maxActive = max(maxActive, active)
		if active == 2 {
			select {
			case <-parallelSeen:
			default:
				close(parallelSeen)
			}
		}
		prev, ok := last[key]
		if !ok {
			prev = -1
		}
		if seq != prev+1 {
			e.t.Errorf("key %s: sequence %d handled after %d, want %d", key, seq, prev, prev+1)
		}
		last[key] = seq
		mu.Unlock()

		if e.caps.ParallelKeys && seq == 0 {
			// Hold the first message of each key until a second key is in
			// flight too: proves different keys run in parallel.
			select {
			case <-parallelSeen:
			case <-stop:
			case <-time.After(e.caps.Timeout):
				e.t.Errorf("key %s: no other key handled while its first message was held for %s (ParallelKeys claimed)",
					key, e.caps.Timeout)
			}
		} else {
			time.Sleep(20 * time.Microsecond) // a little work, so that keys overlap
		}

		mu.Lock()
		inFlight[key]--
		active--
		handled++
		mu.Unlock()
		msg.Ack()
	})

	var wg sync.WaitGroup
	errs := make(chan error, nKeys)
	for i := range nKeys {
		wg.Go(func() {
			sym := fmt.Sprintf("SYM%d", i)
			key := events.Key(e.kind, "venue", sym)
			ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
			defer cancel()
			for seq := range perKey {
				msg := newMessage(sym, strconv.Itoa(seq))
				msg.SetContext(ctx)
				if err := e.tr.Publisher().Publish(key, msg); err != nil {
					errs <- fmt.Errorf("Publish(%q): %w", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
	e.waitFor(fmt.Sprintf("%d messages handled", nKeys*perKey), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled >= nKeys*perKey
	})
	mu.Lock()
	defer mu.Unlock()
	for i := range nKeys {
		sym := fmt.Sprintf("SYM%d", i)
		if last[sym] != perKey-1 {
			e.t.Errorf("key %s: last sequence %d, want %d", sym, last[sym], perKey-1)
		}
	}
	e.t.Logf("max keys in flight at once: %d", maxActive)
	if e.caps.ParallelKeys && maxActive < 2 {
		e.t.Errorf("max keys in flight %d, want >= 2 (ParallelKeys claimed)", maxActive)
	}
}

func testNackRedelivers(e *env) {
	const n, nackSeq, nacks = 5, 2, 2
	var (
		mu         sync.Mutex
		deliveries []int
		nacked     int
		acked      = map[int]bool{}
	)
	s := e.subscribe(UniqueName("g"), e.kind+".#")
	e.consume(s, func(msg *message.Message, _ <-chan struct{}) {
		seq, _ := strconv.Atoi(string(msg.Payload))
		mu.Lock()
		deliveries = append(deliveries, seq)
		if seq == nackSeq && nacked < nacks {
			nacked++
			mu.Unlock()
			msg.Nack()
			return
		}
		acked[seq] = true
		mu.Unlock()
		msg.Ack()
	})
	key := events.Key(e.kind, "venue", "BTCUSDT")
	for seq := range n {
		e.publish(key, newMessage("BTCUSDT", strconv.Itoa(seq)))
	}
	e.waitFor(fmt.Sprintf("%d messages acked (message %d nacked %d times first)", n, nackSeq, nacks), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) == n
	})
	mu.Lock()
	defer mu.Unlock()
	times := 0
	for _, seq := range deliveries {
		if seq == nackSeq {
			times++
		}
	}
	if times < nacks+1 {
		e.t.Errorf("message %d delivered %d times, want %d (redelivery after nack)", nackSeq, times, nacks+1)
	}
	if e.caps.OrderAfterNack {
		want := []int{0, 1, 2, 2, 2, 3, 4}
		if !slices.Equal(deliveries, want) {
			e.t.Errorf("deliveries in order %v, want %v (OrderAfterNack claimed)", deliveries, want)
		}
	}
}

func testMetadata(e *env) {
	key := events.Key(e.kind, "binance", "BTCUSDT")
	id := uuid.NewString()
	md := map[string]string{
		events.MetaID:              id,
		events.MetaSource:          "transporttest",
		events.MetaSpecVersion:     events.SpecVersion,
		events.MetaType:            "tradebus.test.v1",
		events.MetaSubject:         "BTCUSDT",
		events.MetaTime:            "2026-01-02T03:04:05.123456789Z",
		events.MetaDataContentType: events.ContentTypeJSON,
		events.MetaCorrelationID:   uuid.NewString(),
		events.MetaCausationID:     uuid.NewString(),
		events.MetaTraceParent:     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		events.MetaPartitionKey:    "BTCUSDT",
		events.MetaSequence:        "42",
		events.MetaRoutingKey:      key,
		"x-custom":                 "äöü ✓ with spaces",
	}
	payload := []byte(`{"price":"0.000000000000000001"}` + "\x00\xff\x01")
	full := message.NewMessage(id, append([]byte(nil), payload...))
	for k, v := range md {
		full.Metadata.Set(k, v)
	}
	bare := newMessage("BTCUSDT", "bare") // no routingkey metadata

	s := e.subscribe(UniqueName("g"), e.kind+".#")
	e.publish(key, full)
	e.publish(key, bare)

	got := e.recv(s.ch, "the message with full metadata")
	got.Ack()
	if got.UUID != id {
		e.t.Errorf("UUID %q, want %q", got.UUID, id)
	}
	if !bytes.Equal(got.Payload, payload) {
		e.t.Errorf("payload %q, want %q", got.Payload, payload)
	}
	for k, v := range md {
		if g := got.Metadata.Get(k); g != v {
			e.t.Errorf("metadata %q = %q, want %q", k, g, v)
		}
	}
	got2 := e.recv(s.ch, "the message without routingkey metadata")
	got2.Ack()
	if got2.UUID != bare.UUID {
		e.t.Fatalf("second message UUID %q, want %q", got2.UUID, bare.UUID)
	}
	if g := got2.Metadata.Get(events.MetaRoutingKey); g != key {
		e.t.Errorf("routingkey metadata on delivery %q, want %q (set by the transport when missing)", g, key)
	}
	if g := got2.Metadata.Get(events.MetaPartitionKey); g != "BTCUSDT" {
		e.t.Errorf("partitionkey metadata %q, want BTCUSDT", g)
	}
}

func testSubscribeCancel(e *env) {
	group := UniqueName("g")
	pattern := e.kind + ".#"
	key := events.Key(e.kind, "venue", "BTCUSDT")
	s := e.subscribe(group, pattern)
	sent := make([]*message.Message, 3)
	for i := range sent {
		sent[i] = newMessage("BTCUSDT", strconv.Itoa(i))
		e.publish(key, sent[i])
	}
	held := e.recv(s.ch, "the first message")
	if held.UUID != sent[0].UUID {
		e.t.Errorf("first delivery %s, want %s (order of one key)", held.UUID, sent[0].UUID)
	}
	s.cancel() // held is neither acked nor nacked
	e.waitClosed(s.ch, "after its subscription ctx was cancelled")
	if !e.caps.DurableGroups {
		return
	}
	s2 := e.subscribe(group, pattern)
	seen := map[string]bool{}
	for len(seen) < len(sent) {
		msg := e.recv(s2.ch, "redelivery to the next member of the group")
		seen[msg.UUID] = true
		msg.Ack()
	}
	for _, m := range sent {
		if !seen[m.UUID] {
			e.t.Errorf("message %s lost after its member's ctx was cancelled", m.UUID)
		}
	}
}

func testDurableGroup(e *env) {
	if !e.caps.DurableGroups {
		e.t.Skip("DurableGroups not claimed")
	}
	group := UniqueName("g")
	pattern := e.kind + ".#"
	s := e.subscribe(group, pattern)
	s.cancel()
	e.waitClosed(s.ch, "after its subscription ctx was cancelled")
	if err := s.sub.Close(); err != nil {
		e.t.Fatalf("Subscriber.Close: %v", err)
	}
	key := events.Key(e.kind, "venue", "BTCUSDT")
	sent := map[string]bool{}
	for i := range 10 {
		msg := newMessage("BTCUSDT", strconv.Itoa(i))
		sent[msg.UUID] = true
		e.publish(key, msg)
	}
	s2 := e.subscribe(group, pattern)
	for got := 0; got < len(sent); {
		msg := e.recv(s2.ch, "messages published while the group had no member")
		if !sent[msg.UUID] {
			e.t.Errorf("unexpected message %s", msg.UUID)
		} else {
			sent[msg.UUID] = false
			got++
		}
		msg.Ack()
	}
}

func testCloseDrains(e *env) {
	pattern := e.kind + ".#"
	s := e.subscribe(UniqueName("g"), pattern)
	for i := range 5 {
		sym := fmt.Sprintf("SYM%d", i)
		e.publish(events.Key(e.kind, "venue", sym), newMessage(sym, "0"))
	}
	held := e.recv(s.ch, "a message")

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*e.caps.Timeout)
		defer cancel()
		closed <- e.tr.Close(ctx)
	}()
	select {
	case err := <-closed:
		e.t.Fatalf("Close returned (%v) while a delivered message was neither acked nor nacked", err)
	case <-time.After(100 * time.Millisecond):
	}
	held.Ack()
	select {
	case err := <-closed:
		if err != nil {
			e.t.Fatalf("Close after the in-flight message was acked: %v", err)
		}
	case <-time.After(e.caps.Timeout):
		e.t.Fatalf("Close did not return %s after the in-flight message was acked", e.caps.Timeout)
	}
	e.waitClosed(s.ch, "after Close")

	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel()
	msg := newMessage("SYM0", "after close")
	msg.SetContext(ctx)
	if err := e.tr.Publisher().Publish(events.Key(e.kind, "venue", "SYM0"), msg); err == nil {
		e.t.Errorf("Publish after Close: no error")
	}
	if sub, err := e.tr.Subscriber(UniqueName("g")); err == nil {
		if ch, err := sub.Subscribe(ctx, pattern); err == nil {
			e.waitClosed(ch, "Subscribe after Close")
			e.t.Errorf("Subscribe after Close: no error")
		}
		_ = sub.Close()
	}
	if err := e.tr.Close(ctx); err != nil {
		e.t.Errorf("second Close: %v, want nil (idempotent)", err)
	}
}

func testCloseDeadline(e *env) {
	s := e.subscribe(UniqueName("g"), e.kind+".#")
	e.publish(events.Key(e.kind, "venue", "BTCUSDT"), newMessage("BTCUSDT", "0"))
	held := e.recv(s.ch, "a message")
	defer held.Ack()

	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := e.tr.Close(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		e.t.Errorf("Close with a message held past its deadline: %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if took > e.caps.Timeout {
		e.t.Errorf("Close took %s with a %s deadline", took, deadline)
	}
	e.waitClosed(s.ch, "after Close's deadline passed")
	ctx2, cancel2 := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel2()
	if err := e.tr.Close(ctx2); err != nil {
		e.t.Errorf("Close after a Close that hit its deadline: %v, want nil (idempotent)", err)
	}
}

func testInvalidKeys(e *env) {
	k := e.kind
	for _, key := range []string{"", k + "..x", k + ".*", k + ".#", k + ".a b", "*.x", k + ".a*b", k + "."} {
		err := e.tr.Publisher().Publish(key, newMessage("p", "x"))
		if !errors.Is(err, events.ErrInvalidRoutingKey) {
			e.t.Errorf("Publish(%q): %v, want an error wrapping events.ErrInvalidRoutingKey", key, err)
		}
	}
	sub, err := e.tr.Subscriber(UniqueName("g"))
	if err != nil {
		e.t.Fatalf("Subscriber: %v", err)
	}
	defer func() { _ = sub.Close() }()
	for _, pattern := range []string{"", "*.x", "#", "#.x", k + "..x", k + ".a b", k + ".a*", k + ".a#"} {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := sub.Subscribe(ctx, pattern)
		if !errors.Is(err, events.ErrInvalidRoutingKey) {
			e.t.Errorf("Subscribe(%q): %v, want an error wrapping events.ErrInvalidRoutingKey", pattern, err)
		}
		cancel()
		if err == nil {
			e.waitClosed(ch, "invalid subscription")
		}
	}
}
