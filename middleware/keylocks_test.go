package middleware

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestKeyLocksExclusive has many goroutines take a few keys, some of them
// giving up while they wait (their ctx is cancelled concurrently, so a
// waiter may be cancelled just as the key is handed to it): one holder
// per key at a time, every waiter that was not cancelled gets the key,
// and no entry is left.
func TestKeyLocksExclusive(t *testing.T) {
	l := newKeyLocks()
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
				key := fmt.Sprint("k", k)
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
				e, err := l.lock(ctx, key)
				if err != nil {
					gaveUp.Add(1)
					cancel()
					continue
				}
				if n := inside[k].Add(1); n != 1 {
					t.Errorf("key %s held by %d lockers", key, n)
				}
				runtime.Gosched()
				inside[k].Add(-1)
				l.unlock(key, e)
				taken.Add(1)
				cancel()
			}
		}()
	}
	wg.Wait()
	if taken.Load()+gaveUp.Load() != workers*rounds {
		t.Fatalf("taken %d + gave up %d != %d", taken.Load(), gaveUp.Load(), workers*rounds)
	}
	if n := l.held(); n != 0 {
		t.Fatalf("%d entries left", n)
	}
	t.Logf("taken %d, gave up %d", taken.Load(), gaveUp.Load())
}

// TestKeyLocksCancelledAsHandedOver: a waiter whose ctx ends just as the
// holder hands it the key (both ready when it wakes) either takes the key
// or, giving up, passes it on: the key is never left held by nobody.
func TestKeyLocksCancelledAsHandedOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newKeyLocks()
		var cancelledWithKey int
		for range 200 {
			e, err := l.lock(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			type res struct {
				e   *keyLock
				err error
			}
			got := make(chan res, 1)
			go func() {
				e, err := l.lock(ctx, "k")
				got <- res{e, err}
			}()
			synctest.Wait() // the waiter is blocked
			cancel()
			l.unlock("k", e) // both of its cases are ready now
			r := <-got
			if r.err == nil {
				l.unlock("k", r.e)
			} else {
				cancelledWithKey++
			}
			if l.held() != 0 {
				t.Fatalf("key still held after the waiter returned (err %v)", r.err)
			}
		}
		if cancelledWithKey == 0 {
			t.Fatal("the waiter never gave up: the case is not exercised")
		}
	})
}
