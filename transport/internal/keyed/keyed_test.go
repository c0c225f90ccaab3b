package keyed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewClampsMax(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{-1, 1}, {0, 1}, {1, 1}, {7, 7}} {
		if got := New(tc.in, call).Max(); got != tc.want {
			t.Errorf("New(%d).Max() = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestOrderPerKey: fns of one key run one at a time, in submission order,
// while several keys are interleaved.
func TestOrderPerKey(t *testing.T) {
	const keys, perKey = 5, 300
	p := New(8, call)
	var (
		mu       sync.Mutex
		got      = make(map[string][]int)
		inFlight = make(map[string]int)
	)
	ctx := context.Background()
	for i := range perKey {
		for k := range keys {
			key := fmt.Sprintf("k%d", k)
			err := p.Submit(ctx, key, func() {
				mu.Lock()
				inFlight[key]++
				if inFlight[key] > 1 {
					t.Errorf("key %s: two fns running at once", key)
				}
				mu.Unlock()
				time.Sleep(time.Microsecond)
				mu.Lock()
				inFlight[key]--
				got[key] = append(got[key], i)
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		seq := got[key]
		if len(seq) != perKey {
			t.Fatalf("key %s: %d fns ran, want %d", key, len(seq), perKey)
		}
		for i, v := range seq {
			if v != i {
				t.Fatalf("key %s: position %d ran fn %d", key, i, v)
			}
		}
	}
}

// TestParallelAcrossKeysBoundedByMax: different keys run at the same time,
// but never more than Max, and the Submit beyond Max blocks until one
// finishes (backpressure).
func TestParallelAcrossKeysBoundedByMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const max = 3
		p := New(max, call)
		release := make(chan struct{})
		var running, peak atomic.Int32
		fn := func() {
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			<-release
			running.Add(-1)
		}
		ctx := context.Background()
		for k := range max {
			if err := p.Submit(ctx, fmt.Sprintf("k%d", k), fn); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := running.Load(); got != max {
			t.Fatalf("%d fns of distinct keys running, want %d", got, max)
		}

		submitted := make(chan error, 1)
		go func() { submitted <- p.Submit(ctx, "k-extra", fn) }()
		synctest.Wait()
		select {
		case err := <-submitted:
			t.Fatalf("Submit beyond Max returned (%v) while %d fns were running", err, max)
		default:
		}

		release <- struct{}{} // one finishes: a slot frees up
		synctest.Wait()
		select {
		case err := <-submitted:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("Submit still blocked after a slot was freed")
		}
		close(release)
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := peak.Load(); got != max {
			t.Errorf("peak concurrency %d, want %d", got, max)
		}
	})
}

// TestQueuedCountsTowardsMax: fns queued behind a running fn of the same
// key hold a slot too, so memory stays bounded by Max.
func TestQueuedCountsTowardsMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(2, call)
		release := make(chan struct{})
		ctx := context.Background()
		for range 2 {
			if err := p.Submit(ctx, "same", func() { <-release }); err != nil {
				t.Fatal(err)
			}
		}
		blocked, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		ran := false
		err := p.Submit(blocked, "other", func() { ran = true })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Submit with 2 of 2 slots held (1 running, 1 queued): %v, want DeadlineExceeded", err)
		}
		close(release)
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if ran {
			t.Error("fn of a failed Submit ran")
		}
	})
}

func TestSubmitCancelled(t *testing.T) {
	p := New(4, call)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Bool
	for range 100 { // a random select would let some through
		if err := p.Submit(ctx, "k", func() { ran.Store(true) }); !errors.Is(err, context.Canceled) {
			t.Fatalf("Submit with a cancelled ctx and free slots: %v, want context.Canceled", err)
		}
	}
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Error("fn ran although Submit returned an error")
	}
}

func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(4, call)
		ctx := context.Background()
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("Wait on an idle pool: %v", err)
		}
		var done atomic.Int32
		for k := range 3 {
			err := p.Submit(ctx, fmt.Sprintf("k%d", k), func() {
				time.Sleep(time.Duration(k+1) * time.Second)
				done.Add(1)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		if err := p.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait(1.5s) with fns of 1s, 2s, 3s: %v, want DeadlineExceeded", err)
		}
		start := time.Now()
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := done.Load(); got != 3 {
			t.Errorf("Wait returned with %d of 3 fns done", got)
		}
		if elapsed := time.Since(start); elapsed != 1500*time.Millisecond {
			t.Errorf("Wait returned after %s more, want 1.5s (when the 3s fn ended)", elapsed)
		}
		// The pool is reusable after it went idle.
		if err := p.Submit(ctx, "k0", func() { done.Add(1) }); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := done.Load(); got != 4 {
			t.Errorf("%d fns done, want 4", got)
		}
	})
}

func TestSubmitBlockedThenCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(1, call)
		release := make(chan struct{})
		if err := p.Submit(context.Background(), "a", func() { <-release }); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() { res <- p.Submit(ctx, "b", func() { t.Error("fn of a cancelled Submit ran") }) }()
		synctest.Wait()
		cancel()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Fatalf("blocked Submit after cancel: %v, want context.Canceled", err)
		}
		close(release)
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWaitIdleWithDoneCtx: an idle pool reports idle even to a ctx that is
// already done (a Close with no time left must not count as cut short).
func TestWaitIdleWithDoneCtx(t *testing.T) {
	p := New(4, call)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 {
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("Wait on an idle pool with a done ctx: %v", err)
		}
	}
}

// call runs a Pool[func()]'s items.
func call(f func()) { f() }
