package middleware

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// TestMemoryStoreFlightsExclusive is TestKeyLocksExclusive for the
// MemoryStore's flights: many goroutines claim a few keys, some giving up
// while they wait, and end each flight by a release or a commit whose
// record expires at once: one flight per key at a time, every claim that
// was not cancelled gets its turn, and no flight is left.
func TestMemoryStoreFlightsExclusive(t *testing.T) {
	s, err := NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds, keys = 8, 2000, 3
	var inside [keys]atomic.Int32
	var taken, gaveUp atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				k := rng.IntN(keys)
				key := storeKey{ns: "g/h:", id: fmt.Sprint("k", k)}
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(4) == 0 {
					spins := rng.IntN(4)
					go func() {
						for range spins {
							runtime.Gosched()
						}
						cancel()
					}()
				}
				h := s.hash(key)
				seen, tok, err := s.claim(ctx, key, h)
				if err != nil {
					gaveUp.Add(1)
					cancel()
					continue
				}
				if seen {
					t.Errorf("%s seen: its records expire at once", key)
				}
				if n := inside[k].Add(1); n != 1 {
					t.Errorf("key %s in %d flights", key, n)
				}
				runtime.Gosched()
				inside[k].Add(-1)
				if rng.IntN(2) == 0 {
					s.release(key, h, tok)
				} else {
					s.commit(key, h, time.Nanosecond)
				}
				taken.Add(1)
				cancel()
			}
		}()
	}
	wg.Wait()
	if taken.Load()+gaveUp.Load() != workers*rounds {
		t.Fatalf("taken %d + gave up %d != %d", taken.Load(), gaveUp.Load(), workers*rounds)
	}
	if n := s.flightsHeld(); n != 0 {
		t.Fatalf("%d flights left", n)
	}
	t.Logf("taken %d, gave up %d", taken.Load(), gaveUp.Load())
}

// A claim of a key in flight waits: after a release it takes the key (not
// seen), after a commit it finds it recorded (seen); a waiter whose ctx
// ends returns its error and leaves the flight alone.
func TestMemoryStoreClaimWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := NewMemoryStore()
		key := storeKey{ns: "g/h:", id: "e1"}
		h := s.hash(key)
		type res struct {
			seen bool
			tok  flightToken
			err  error
		}
		wait := func(ctx context.Context) chan res {
			c := make(chan res, 1)
			go func() {
				seen, tok, err := s.claim(ctx, key, h)
				c <- res{seen, tok, err}
			}()
			synctest.Wait()
			return c
		}
		_, tok, _ := s.claim(context.Background(), key, h)
		if seen, _ := s.Seen(context.Background(), "g/h:e1"); seen {
			t.Fatal("a key in flight is seen")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := wait(ctx)
		waiter := wait(context.Background())
		select {
		case r := <-waiter:
			t.Fatalf("claim of a key in flight returned %+v", r)
		default:
		}
		cancel()
		if r := <-cancelled; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled waiter: %+v", r)
		}
		if s.flightsHeld() != 1 {
			t.Fatal("the cancelled waiter changed the flight")
		}
		s.release(key, h, tok)
		r := <-waiter
		if r.err != nil || r.seen {
			t.Fatalf("after the release: %+v, want the key", r)
		}
		again := wait(context.Background())
		s.commit(key, h, time.Hour)
		if r := <-again; r.err != nil || !r.seen {
			t.Fatalf("after the commit: %+v, want seen", r)
		}
		if seen, _ := s.Seen(context.Background(), "g/h:e1"); !seen || s.flightsHeld() != 0 {
			t.Fatalf("after the commit: seen %v, flights %d", seen, s.flightsHeld())
		}
	})
}

// In middleware.Default the dedup key sits in the failures context of the
// retry middleware just outside (no context of its own): DedupKey finds
// it in the handler, on every attempt, and a panicking handler leaves no
// flight behind.
func TestDefaultDedupKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := Default(newRecPub(), WithConsumerGroup("g"), WithMaxAttempts(3), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		h := s.Middleware(func(msg *message.Message) ([]*message.Message, error) {
			k, ok := DedupKey(msg.Context())
			if !ok {
				t.Error("no dedup key in the handler's context")
			}
			keys = append(keys, k)
			if msg.UUID == "panics" {
				panic("boom")
			}
			if len(keys) == 1 {
				return nil, errFlaky
			}
			return nil, nil
		})
		msg := testMsg("e1")
		msg.SetContext(ContextWithHandlerName(context.Background(), "h"))
		if _, err := h(msg); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0] != "g/h:e1" || keys[1] != "g/h:e1" {
			t.Fatalf("dedup keys %q, want g/h:e1 twice", keys)
		}
		if k, ok := DedupKey(context.Background()); ok {
			t.Fatalf("DedupKey(Background) = %q", k)
		}
		_, _ = h(testMsg("panics"))
		if n := s.Dedup.Store().(*MemoryStore).flightsHeld(); n != 0 {
			t.Fatalf("%d flights left", n)
		}
	})
}
