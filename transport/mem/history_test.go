package mem_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// readAll runs transport.Read of pattern from from and returns the
// payloads and positions passed.
func readAll(t *testing.T, tr transport.Transport, pattern string, from transport.From) ([]string, []transport.Position) {
	t.Helper()
	var payloads []string
	var positions []transport.Position
	err := transport.Read(t.Context(), tr, pattern, from, func(msg *message.Message) bool {
		pos, ok := transport.PositionFromContext(msg.Context())
		if !ok {
			t.Errorf("Read: message %s has no position", msg.Payload)
		}
		payloads = append(payloads, string(msg.Payload))
		positions = append(positions, pos)
		return true
	})
	if err != nil {
		t.Fatalf("Read(%s): %v", pattern, err)
	}
	return payloads, positions
}

func seq(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, strconv.Itoa(i))
	}
	return s
}

// TestHistoryEvicts: a kind keeps its last n messages — after 3n only n,
// in a ring no bigger than n — and Read passes the newest n in publish
// order with offsets 2n+1 … 3n; kinds count separately; a position older
// than the history starts at its oldest message.
func TestHistoryEvicts(t *testing.T) {
	const n = 50
	tr := newMem(t, mem.WithHistory(n))
	d := tr.Driver().(*mem.Driver)
	for i := range 3 * n {
		mustPublish(t, tr, fmt.Sprintf("k.s%d", i%3), newMsg(strconv.Itoa(i%3), strconv.Itoa(i)))
		if i%2 == 0 {
			mustPublish(t, tr, "other.x", newMsg("o", strconv.Itoa(i)))
		}
	}
	if got, capacity := mem.HistorySize(d, "k"); got != n || capacity != n {
		t.Errorf("kind k holds %d messages in a ring of %d, want %d in %d", got, capacity, n, n)
	}
	payloads, positions := readAll(t, tr, "k.#", transport.FromBeginning())
	if !slices.Equal(payloads, seq(2*n, 3*n)) {
		t.Fatalf("Read passed %v, want %v", payloads, seq(2*n, 3*n))
	}
	for i, p := range positions {
		if want := (transport.Position{Stream: "k", Offset: strconv.Itoa(2*n + i + 1)}); p != want {
			t.Errorf("message %d at %v, want %v", i, p, want)
		}
	}
	if got, _ := readAll(t, tr, "other.#", transport.FromBeginning()); len(got) != n || got[0] != "50" {
		t.Errorf("kind other (%d published): %d messages from %v, want %d from 50", 3*n/2, len(got), got[:1], n)
	}
	evicted := transport.Position{Stream: "k", Offset: "3"}
	if got, _ := readAll(t, tr, "k.#", transport.FromPosition(evicted)); !slices.Equal(got, seq(2*n, 3*n)) {
		t.Errorf("Read after an evicted position passed %v, want the %d retained", got, n)
	}
	if got, _ := readAll(t, tr, "k.s1", transport.FromPosition(positions[n-10])); !slices.Equal(got, []string{"142", "145", "148"}) {
		t.Errorf("Read of k.s1 after %v passed %v, want 142 145 148", positions[n-10], got)
	}
	if got, _ := readAll(t, tr, "k.#", transport.FromPosition(transport.Position{Stream: "k", Offset: "18446744073709551615"})); len(got) > 0 {
		t.Errorf("Read after the largest offset passed %v", got)
	}
	other := transport.Position{Stream: "other", Offset: "70"} // names another stream: k from its oldest
	if got, _ := readAll(t, tr, "k.#", transport.FromPosition(other)); len(got) != n {
		t.Errorf("Read after another stream's position passed %d, want %d", len(got), n)
	}
	err := transport.Read(t.Context(), tr, "k.#", transport.FromPosition(transport.Position{Stream: "k", Offset: "1-0"}),
		func(*message.Message) bool { return true })
	if !errors.Is(err, transport.ErrInvalidOption) {
		t.Errorf("Read after a malformed offset: %v, want ErrInvalidOption", err)
	}
}

// TestOpenHistory: URL history=N keeps the last N per kind; history=0
// none.
func TestOpenHistory(t *testing.T) {
	ctx := context.Background()
	open := func(raw string) transport.Transport {
		tr, err := transport.Open(ctx, raw)
		if err != nil {
			t.Fatalf("Open(%s): %v", raw, err)
		}
		t.Cleanup(func() { _ = tr.Close(ctx) })
		return tr
	}
	tr := open("mem://?history=3")
	for i := range 5 {
		if err := tr.Publisher().Publish("k.a", newMsg("p", strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := readAll(t, tr, "k.#", transport.FromBeginning()); !slices.Equal(got, seq(2, 5)) {
		t.Errorf("history=3: Read passed %v, want 2 3 4", got)
	}
	err := transport.Read(ctx, open("mem://?history=0"), "k.#", transport.FromBeginning(), func(*message.Message) bool { return true })
	if !errors.Is(err, transport.ErrNotReplayable) {
		t.Errorf("history=0: Read: %v, want ErrNotReplayable", err)
	}
}

// TestHistoryCopies: what the history keeps is its own copy: neither the
// sender reusing its message nor a reader changing what it was passed
// changes a later Read.
func TestHistoryCopies(t *testing.T) {
	d, err := mem.NewDriver(mem.WithHistory(8))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	ctx := context.Background()
	big := make([]byte, 10<<10) // not carved from the shared buffer
	msgs := []*driver.Message{
		{UUID: "1", Key: "k.a", Metadata: map[string]string{"x": "1"}, Payload: []byte("small"), MetadataHandedOver: true},
		{UUID: "2", Key: "k.a", Metadata: map[string]string{"x": "2"}, Payload: big},
	}
	want := [][]byte{[]byte("small"), bytes.Clone(big)}
	if err := d.Topic().SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		m.Payload[0] = 'X'
		m.Metadata["x"] = "reused"
	}
	check := func() {
		t.Helper()
		i := 0
		err := d.Read(ctx, "k.#", driver.Start{}, func(m *driver.Message) bool {
			if !bytes.Equal(m.Payload, want[i]) || m.Metadata["x"] != msgs[i].UUID || m.Position.Offset != msgs[i].UUID {
				t.Errorf("read %s: payload %q… x=%q at %v", m.UUID, m.Payload[:1], m.Metadata["x"], m.Position)
			}
			m.Payload[0] = 'Y'
			m.Payload = append(m.Payload, "more"...)
			m.Metadata["x"] = "changed by a reader"
			i++
			return true
		})
		if err != nil || i != len(msgs) {
			t.Fatalf("Read: %d messages, %v", i, err)
		}
	}
	check()
	check()
}

// TestHistoryReadStopsAtHead: Read passes what was stored when it
// started, not what fn publishes meanwhile (fn runs with no lock held,
// so it may publish).
func TestHistoryReadStopsAtHead(t *testing.T) {
	tr := newMem(t, mem.WithHistory(100))
	for i := range 5 {
		mustPublish(t, tr, "k.a", newMsg("p", strconv.Itoa(i)))
	}
	var got []string
	err := transport.Read(t.Context(), tr, "k.#", transport.FromBeginning(), func(msg *message.Message) bool {
		got = append(got, string(msg.Payload))
		mustPublish(t, tr, "k.a", newMsg("p", "during"))
		return true
	})
	if err != nil || !slices.Equal(got, seq(0, 5)) {
		t.Errorf("Read: %v, %v; want 0..4, nil", got, err)
	}
	if all, _ := readAll(t, tr, "k.#", transport.FromBeginning()); len(all) != 10 {
		t.Errorf("then %d stored, want 10", len(all))
	}
}

// TestHistoryFollow: Follow passes the history and then each message as
// it is published, until fn returns false (nil) or ctx is cancelled
// (ctx's error); a kind not yet published is waited for; FromTime in the
// future skips what is stored before it.
func TestHistoryFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t, mem.WithHistory(100))
		for i := range 3 {
			mustPublish(t, tr, "k.a", newMsg("p", strconv.Itoa(i)))
		}
		got := make(chan string)
		done := make(chan error, 1)
		go func() {
			n := 0
			done <- transport.Follow(t.Context(), tr, "k.#", transport.FromBeginning(), func(msg *message.Message) bool {
				got <- string(msg.Payload)
				n++
				return n < 6
			})
		}()
		for i := range 3 {
			if p := <-got; p != strconv.Itoa(i) {
				t.Fatalf("Follow passed %s, want %d", p, i)
			}
		}
		synctest.Wait() // the follower waits for news
		select {
		case err := <-done:
			t.Fatalf("Follow returned at the head: %v", err)
		default:
		}
		for i := 3; i < 6; i++ {
			go func() {
				if err := tr.Publisher().Publish("k.a", newMsg("p", strconv.Itoa(i))); err != nil {
					t.Errorf("Publish: %v", err)
				}
			}()
			if p := <-got; p != strconv.Itoa(i) {
				t.Fatalf("Follow passed %s, want %d", p, i)
			}
		}
		if err := <-done; err != nil {
			t.Errorf("Follow whose fn returned false: %v, want nil", err)
		}

		// A kind never published, from a time to come; then cancelled.
		ctx, cancel := context.WithCancel(t.Context())
		from := time.Now().Add(time.Hour)
		go func() {
			done <- transport.Follow(ctx, tr, "new.#", transport.FromTime(from), func(msg *message.Message) bool {
				got <- string(msg.Payload)
				return true
			})
		}()
		synctest.Wait()
		mustPublish(t, tr, "new.a", newMsg("p", "before")) // stored before from: skipped
		time.Sleep(time.Hour)                              // fake time: the clock passes from
		mustPublish(t, tr, "new.a", newMsg("p", "after"))
		if p := <-got; p != "after" {
			t.Errorf("Follow from a time to come passed %s, want after", p)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Follow after cancel: %v, want context.Canceled", err)
		}
		closeNow(t, tr)
	})
}

// TestHistoryCloseEndsFollow: closing the transport ends a waiting
// follower with ErrClosed (goleak in TestMain checks nothing is left);
// Read after Close fails with ErrClosed.
func TestHistoryCloseEndsFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := mem.New(mem.WithHistory(10))
		if err != nil {
			t.Fatal(err)
		}
		mustPublish(t, tr, "k.a", newMsg("p", "0"))
		done := make(chan error, 2)
		for _, pattern := range []string{"k.#", "never.#"} {
			go func() {
				done <- transport.Follow(context.Background(), tr, pattern, transport.FromBeginning(), func(*message.Message) bool { return true })
			}()
		}
		synctest.Wait()
		closeNow(t, tr)
		for range 2 {
			if err := <-done; !errors.Is(err, mem.ErrClosed) {
				t.Errorf("Follow after Close: %v, want ErrClosed", err)
			}
		}
		err = transport.Read(context.Background(), tr, "k.#", transport.FromBeginning(), func(*message.Message) bool { return true })
		if !errors.Is(err, mem.ErrClosed) {
			t.Errorf("Read after Close: %v, want ErrClosed", err)
		}
	})
}

// TestHistoryPositionInHandler: with history, a subscription's messages
// carry their Position in their context — the one Read gives them; also
// in a group subscribed with a narrower pattern. Without history they
// carry none and Read fails with ErrNotReplayable.
func TestHistoryPositionInHandler(t *testing.T) {
	tr := newMem(t, mem.WithHistory(10))
	chAll := mustSubscribe(t, tr, t.Context(), "all", "k.#")
	chB := mustSubscribe(t, tr, t.Context(), "b", "k.b")
	for i, key := range []string{"k.a", "k.b", "k.a", "k.b"} {
		mustPublish(t, tr, key, newMsg(key, strconv.Itoa(i)))
	}
	_, positions := readAll(t, tr, "k.#", transport.FromBeginning())
	check := func(ch <-chan *message.Message, want ...int) {
		t.Helper()
		var got []int
		for range want {
			msg := <-ch // keys are handed out concurrently: in any order
			i, _ := strconv.Atoi(string(msg.Payload))
			got = append(got, i)
			pos, ok := transport.PositionFromContext(msg.Context())
			wantPos := transport.Position{Stream: "k", Offset: strconv.Itoa(i + 1)}
			if !ok || pos != wantPos || positions[i] != wantPos {
				t.Errorf("message %s: position %v (%v), Read gave %v, want %v", msg.Payload, pos, ok, positions[i], wantPos)
			}
			msg.Ack()
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("received %v, want %v", got, want)
		}
	}
	check(chAll, 0, 1, 2, 3)
	check(chB, 1, 3)

	plain := newMem(t)
	ch := mustSubscribe(t, plain, t.Context(), "g", "k.#")
	mustPublish(t, plain, "k.a", newMsg("p", "x"))
	msg := <-ch
	if pos, ok := transport.PositionFromContext(msg.Context()); ok {
		t.Errorf("without history: position %v", pos)
	}
	msg.Ack()
	for _, read := range []func(context.Context, transport.Transport, string, transport.From, func(*message.Message) bool) error{
		transport.Read, transport.Follow,
	} {
		if err := read(t.Context(), plain, "k.#", transport.FromBeginning(), func(*message.Message) bool { return true }); !errors.Is(err, transport.ErrNotReplayable) {
			t.Errorf("Read/Follow without history: %v, want ErrNotReplayable", err)
		}
	}
}

// TestHistoryConcurrent runs publishers and followers at once (for
// -race): each follower sees every message of its kind once, in order per
// partition key, with rising offsets.
func TestHistoryConcurrent(t *testing.T) {
	const publishers, perPublisher = 4, 200
	tr := newMem(t, mem.WithHistory(publishers*perPublisher))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for f := range 3 {
		wg.Go(func() {
			last := map[string]int{}
			var lastOff uint64
			n := 0
			err := transport.Follow(ctx, tr, "k.#", transport.FromBeginning(), func(msg *message.Message) bool {
				pos, _ := transport.PositionFromContext(msg.Context())
				off, _ := strconv.ParseUint(pos.Offset, 10, 64)
				if off <= lastOff {
					t.Errorf("follower %d: offset %d after %d", f, off, lastOff)
				}
				lastOff = off
				pk := msg.Metadata.Get("partitionkey")
				i, _ := strconv.Atoi(string(msg.Payload))
				if prev, ok := last[pk]; ok && i != prev+1 {
					t.Errorf("follower %d: key %s: %d after %d", f, pk, i, prev)
				}
				last[pk] = i
				n++
				return n < publishers*perPublisher
			})
			if err != nil {
				t.Errorf("follower %d: %v", f, err)
			}
		})
	}
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				mustPublish(t, tr, "k.a", newMsg(strconv.Itoa(p), strconv.Itoa(i)))
			}
		})
	}
	wg.Wait()
}
