package middleware

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	wmmw "github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

func TestDedupRecordsOnlyAfterSuccess(t *testing.T) {
	d, err := NewDedup(WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	h := d.Middleware(func(*message.Message) ([]*message.Message, error) {
		calls++
		if calls == 1 {
			return nil, errFlaky
		}
		return nil, nil
	})
	if _, err := h(testMsg("a")); !errors.Is(err, errFlaky) {
		t.Fatal(err)
	}
	if seen, _ := d.Store().Seen(context.Background(), ":a"); seen {
		t.Fatal("failed message recorded")
	}
	if _, err := h(testMsg("a")); err != nil { // redelivery: processed again
		t.Fatal(err)
	}
	if _, err := h(testMsg("a")); err != nil { // duplicate: acked, not handled
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("handler ran %d times, want 2", calls)
	}
	if st := d.Stats(); st != (DedupStats{Processed: 1, Duplicates: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

// mapRepo is a plain ExpiringKeyRepository for Watermill's Deduplicator (its
// own map repository starts a goroutine that never stops).
type mapRepo struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (r *mapRepo) IsDuplicate(_ context.Context, key string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dup := r.seen[key]
	r.seen[key] = true
	return dup, nil
}

// The same scenario through a router, once with Watermill's Deduplicator and
// once with ours: the first delivery fails and is nacked, the transport
// redelivers it. Watermill's records the key on arrival, so it drops the
// redelivery and the event is never handled; ours handles it.
func TestDedupVersusWatermillDeduplicator(t *testing.T) {
	run := func(t *testing.T, mw message.HandlerMiddleware) (handled, calls int32) {
		var c, ok atomic.Int32
		var mu sync.Mutex
		var delivered []*message.Message // every delivery, seen outside the dedup middleware
		capture := func(h message.HandlerFunc) message.HandlerFunc {
			return func(msg *message.Message) ([]*message.Message, error) {
				mu.Lock()
				delivered = append(delivered, msg)
				mu.Unlock()
				return h(msg)
			}
		}
		gc := runRouter(t, "orders", func(msg *message.Message) error {
			if c.Add(1) == 1 {
				return errFlaky // nacked, GoChannel redelivers
			}
			ok.Add(1)
			return nil
		}, capture, mw)
		if err := gc.Publish("orders", testMsg("a")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the redelivery to be acked", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(delivered) == 2 && ackState(delivered[0]) == "nack" && ackState(delivered[1]) == "ack"
		})
		return ok.Load(), c.Load()
	}
	t.Run("watermill drops the redelivery", func(t *testing.T) {
		wd := &wmmw.Deduplicator{KeyFactory: func(m *message.Message) (string, error) { return m.UUID, nil }, Repository: &mapRepo{seen: map[string]bool{}}, Timeout: time.Second}
		handled, calls := run(t, wd.Middleware)
		if handled != 0 || calls != 1 {
			t.Fatalf("handled %d calls %d: expected Watermill to drop the redelivered message", handled, calls)
		}
	})
	t.Run("tradebus handles it", func(t *testing.T) {
		d, _ := NewDedup(WithLogger(quiet))
		handled, calls := run(t, d.Middleware)
		if handled != 1 || calls != 2 {
			t.Fatalf("handled %d calls %d, want 1 and 2", handled, calls)
		}
	})
}

func TestDedupConcurrentDuplicates(t *testing.T) {
	for _, firstFails := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			d, _ := NewDedup(WithLogger(quiet))
			release := make(chan struct{})
			var inHandler, maxIn, calls atomic.Int32
			h := d.Middleware(func(*message.Message) ([]*message.Message, error) {
				n := inHandler.Add(1)
				defer inHandler.Add(-1)
				if n > maxIn.Load() {
					maxIn.Store(n)
				}
				c := calls.Add(1)
				<-release
				if firstFails && c == 1 {
					return nil, errFlaky
				}
				return nil, nil
			})
			errs := make(chan error, 2)
			for range 2 {
				go func() { _, err := h(testMsg("a")); errs <- err }()
			}
			synctest.Wait() // one is in the handler, the other waits for the key
			if calls.Load() != 1 {
				t.Fatalf("%d in handler", calls.Load())
			}
			close(release)
			e1, e2 := <-errs, <-errs
			if maxIn.Load() != 1 {
				t.Fatal("two duplicates in the handler at once")
			}
			if firstFails {
				// The first failed: the second was processed.
				if calls.Load() != 2 || (e1 == nil) == (e2 == nil) {
					t.Fatalf("calls %d errs %v %v", calls.Load(), e1, e2)
				}
			} else if calls.Load() != 1 || e1 != nil || e2 != nil || d.Stats().Duplicates != 1 {
				t.Fatalf("calls %d errs %v %v stats %+v", calls.Load(), e1, e2, d.Stats())
			}
		})
	}
}

func TestDedupWaitingDuplicateHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := NewDedup(WithLogger(quiet))
		release := make(chan struct{})
		h := d.Middleware(func(*message.Message) ([]*message.Message, error) {
			<-release
			return nil, nil
		})
		done := make(chan struct{})
		go func() { _, _ = h(testMsg("a")); close(done) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		msg := testMsg("a")
		msg.SetContext(ctx)
		if _, err := h(msg); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		close(release)
		<-done
	})
}

func TestDedupProducedMessagesRecordedOnAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := NewDedup(WithLogger(quiet), WithDedupNamespace("ns"))
		calls := 0
		h := d.Middleware(func(*message.Message) ([]*message.Message, error) {
			calls++
			return []*message.Message{message.NewMessage("out", nil)}, nil
		})
		seen := func() bool { s, _ := d.Store().Seen(context.Background(), "ns:a"); return s }

		m1 := testMsg("a")
		if out, err := h(m1); err != nil || len(out) != 1 {
			t.Fatal(out, err)
		}
		synctest.Wait()
		if seen() {
			t.Fatal("recorded before the router acked")
		}
		m1.Nack() // publishing the produced messages failed
		synctest.Wait()
		if seen() {
			t.Fatal("recorded although nacked")
		}
		m2 := testMsg("a")
		if _, err := h(m2); err != nil || calls != 2 {
			t.Fatalf("redelivery not processed: calls %d err %v", calls, err)
		}
		m2.Ack()
		synctest.Wait()
		if !seen() {
			t.Fatal("not recorded after ack")
		}
		if _, err := h(testMsg("a")); err != nil || calls != 2 {
			t.Fatalf("duplicate processed: calls %d", calls)
		}
	})
}

type failingStore struct {
	seenErr, recordErr error
}

func (s failingStore) Seen(context.Context, string) (bool, error) { return false, s.seenErr }
func (s failingStore) Record(context.Context, string, time.Duration) error {
	return s.recordErr
}

func TestDedupStoreErrors(t *testing.T) {
	errDown := errors.New("store down")
	d, _ := NewDedup(WithLogger(quiet), WithDedupStore(failingStore{seenErr: errDown}))
	calls := 0
	h := func(*message.Message) ([]*message.Message, error) { calls++; return nil, nil }
	if _, err := d.Middleware(h)(testMsg("a")); !errors.Is(err, errDown) || IsPermanent(err) || calls != 0 {
		t.Fatalf("lookup failure: err %v calls %d", err, calls)
	}
	d, _ = NewDedup(WithLogger(quiet), WithDedupStore(failingStore{recordErr: errDown}))
	if _, err := d.Middleware(h)(testMsg("a")); err != nil || calls != 1 {
		t.Fatalf("record failure returned %v", err)
	}
	if st := d.Stats(); st.RecordErrors != 1 || st.Processed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDedupKeyFuncAndNamespace(t *testing.T) {
	store, _ := NewMemoryStore()
	execID := func(m *message.Message) (string, error) { return m.Metadata.Get("execid"), nil }
	d1, _ := NewDedup(WithLogger(quiet), WithDedupStore(store), WithDedupKey(execID), WithConsumerGroup("portfolio"))
	d2, _ := NewDedup(WithLogger(quiet), WithDedupStore(store), WithDedupKey(execID), WithConsumerGroup("risk"))
	var calls1, calls2 int
	h1 := d1.Middleware(func(msg *message.Message) ([]*message.Message, error) {
		if k, _ := DedupKey(msg.Context()); k != "portfolio/:E1" {
			t.Errorf("DedupKey = %q", k)
		}
		calls1++
		return nil, nil
	})
	h2 := d2.Middleware(func(*message.Message) ([]*message.Message, error) { calls2++; return nil, nil })
	// Two different messages (ids) carrying the same execution: one fill.
	m1, m2 := testMsg("a"), testMsg("b")
	m1.Metadata.Set("execid", "E1")
	m2.Metadata.Set("execid", "E1")
	for _, m := range []*message.Message{m1, m2} {
		if _, err := h1(m); err != nil {
			t.Fatal(err)
		}
		if _, err := h2(m); err != nil {
			t.Fatal(err)
		}
	}
	if calls1 != 1 || calls2 != 1 {
		t.Fatalf("calls %d %d, want 1 per group", calls1, calls2)
	}
	if _, err := h1(testMsg("c")); !IsPermanent(err) || !errors.Is(err, ErrNoDedupKey) {
		t.Fatalf("empty key: %v", err)
	}
	errBody := errors.New("undecodable body")
	d3, _ := NewDedup(WithLogger(quiet), WithDedupKey(func(*message.Message) (string, error) { return "", Permanent(errBody) }))
	if _, err := d3.Middleware(h1)(testMsg("d")); !IsPermanent(err) || !errors.Is(err, errBody) {
		t.Fatalf("key func error: %v", err)
	}
}

func TestKeyLocksCleanUp(t *testing.T) {
	d, _ := NewDedup(WithLogger(quiet))
	h := d.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, nil })
	for _, id := range []string{"a", "b", "a"} {
		_, _ = h(testMsg(id))
	}
	if n := d.locks.held(); n != 0 {
		t.Fatalf("%d key locks left", n)
	}
	// On its MemoryStore the flights stand for the key locks.
	if n := d.Store().(*MemoryStore).flightsHeld(); n != 0 {
		t.Fatalf("%d flights left", n)
	}
}
