package middleware

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"
)

func TestMemoryStoreTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		// One shard: a sharded store sweeps the shard of the key recorded.
		s, err := NewMemoryStore(WithMaxEntries(1000))
		if err != nil {
			t.Fatal(err)
		}
		if seen, _ := s.Seen(ctx, "k"); seen {
			t.Fatal("empty store saw k")
		}
		_ = s.Record(ctx, "k", time.Minute)
		time.Sleep(59 * time.Second)
		if seen, _ := s.Seen(ctx, "k"); !seen {
			t.Fatal("k forgotten before its TTL")
		}
		// Recording again keeps the first record (and its expiry).
		_ = s.Record(ctx, "k", time.Hour)
		time.Sleep(time.Second)
		if seen, _ := s.Seen(ctx, "k"); seen {
			t.Fatal("k seen after its TTL")
		}
		if s.Len() != 0 {
			t.Fatalf("expired key kept: len %d", s.Len())
		}
		// Expired keys are swept when new keys are recorded.
		for i := range 10 {
			_ = s.Record(ctx, fmt.Sprint(i), time.Second)
		}
		time.Sleep(2 * time.Second)
		_ = s.Record(ctx, "new", time.Second)
		if s.Len() != 1 {
			t.Fatalf("len %d after sweep, want 1", s.Len())
		}
	})
}

func TestMemoryStoreBounded(t *testing.T) {
	ctx := context.Background()
	s, _ := NewMemoryStore(WithMaxEntries(3))
	for _, k := range []string{"a", "b", "c", "d"} {
		_ = s.Record(ctx, k, time.Hour)
	}
	if s.Len() != 3 || s.Evicted() != 1 {
		t.Fatalf("len %d evicted %d", s.Len(), s.Evicted())
	}
	if seen, _ := s.Seen(ctx, "a"); seen {
		t.Fatal("oldest key not evicted")
	}
	for _, k := range []string{"b", "c", "d"} {
		if seen, _ := s.Seen(ctx, k); !seen {
			t.Fatalf("%s evicted", k)
		}
	}
}

func TestMemoryStoreStaleRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, _ := NewMemoryStore(WithMaxEntries(2))
		_ = s.Record(ctx, "k", time.Second)
		time.Sleep(2 * time.Second)
		if seen, _ := s.Seen(ctx, "k"); seen { // drops k; its ring entry is stale
			t.Fatal("seen after TTL")
		}
		_ = s.Record(ctx, "k", time.Hour) // k again, newer record
		_ = s.Record(ctx, "x", time.Hour)
		if seen, _ := s.Seen(ctx, "k"); !seen {
			t.Fatal("stale ring entry removed the new record of k")
		}
		// Full: the oldest live record (k) goes, x stays.
		_ = s.Record(ctx, "y", time.Hour)
		if seenK, _ := s.Seen(ctx, "k"); seenK || s.Evicted() != 1 || s.Len() != 2 {
			t.Fatalf("k seen %v evicted %d len %d", seenK, s.Evicted(), s.Len())
		}
		// Many re-records of live keys keep the ring bounded.
		for range 1000 {
			_ = s.Record(ctx, "x", time.Hour)
			_ = s.Record(ctx, "y", time.Hour)
		}
		if _, _, n := s.counts(); n > 4 {
			t.Fatalf("ring holds %d entries", n)
		}
	})
}

// TestMemoryStoreKeysOfAnyLength records keys from empty to several times
// the store's first key ring, so that the ring grows while its used bytes
// wrap round its end, and checks every answer against the model.
func TestMemoryStoreKeysOfAnyLength(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(3, 4))
		s, ref := newModelStore(t, 40, 2)
		long := strings.Repeat("0123456789", 500)
		keys := make([]string, 120)
		for i := range keys {
			keys[i] = fmt.Sprint(i, long[:rng.IntN(len(long))])
		}
		keys[0] = ""
		for step := range 5000 {
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(2) == 0 {
				got, _ := s.Seen(ctx, k)
				if want := ref.seen(k); got != want {
					t.Fatalf("step %d: Seen(key of %d bytes) = %v, model %v", step, len(k), got, want)
				}
				continue
			}
			ttl := time.Duration(1+rng.IntN(20)) * time.Second
			_ = s.Record(ctx, k, ttl)
			ref.record(k, ttl)
			if rng.IntN(50) == 0 {
				time.Sleep(time.Duration(rng.IntN(5000)) * time.Millisecond)
			}
		}
	})
}

// TestMemoryStoreKeepsNoMessageAlive: a store copies the keys it records,
// so a key that is a slice of a large buffer (a Kafka driver's metadata
// points into the fetched batch) does not keep the buffer alive.
func TestMemoryStoreKeepsNoMessageAlive(t *testing.T) {
	s, err := NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	freed := make(chan struct{})
	func() {
		batch := make([]byte, 1<<20)
		copy(batch, "event-1")
		runtime.AddCleanup(&batch[0], func(struct{}) { close(freed) }, struct{}{})
		_ = s.Record(context.Background(), unsafe.String(&batch[0], 7), time.Hour)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		runtime.GC()
		select {
		case <-freed:
			if seen, _ := s.Seen(context.Background(), "event-1"); !seen {
				t.Fatal("key forgotten")
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the buffer a recorded key was sliced from is still alive after a minute of GCs")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMemoryStoreShardedWindow checks the eviction window of a sharded
// store as its doc states it: of keys recorded in order into the default
// store (16 shards), the newest 92% of its capacity are all held, none
// older than 108% is (each bound is over 6 standard deviations of the
// spread of keys over the shards away), and it holds at most its capacity.
func TestMemoryStoreShardedWindow(t *testing.T) {
	ctx := context.Background()
	s, err := NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.shards) != 16 {
		t.Fatalf("%d shards, want 16", len(s.shards))
	}
	// Below 2×MemoryShardEntries a store is one shard: exact eviction order.
	for max, want := range map[int]int{1: 1, 2*MemoryShardEntries - 1: 1, 2 * MemoryShardEntries: 2, 1 << 29: 16} {
		if s, _ := NewMemoryStore(WithMaxEntries(max)); len(s.shards) != want {
			t.Fatalf("a store of %d entries has %d shards, want %d", max, len(s.shards), want)
		}
	}
	const max, n = DefaultMemoryMaxEntries, 3 * DefaultMemoryMaxEntries
	key := func(i int) string { return fmt.Sprint("binance:BTC/USDT:", i) }
	for i := range n {
		_ = s.Record(ctx, key(i), time.Hour)
	}
	if s.Len() > max || s.Len() < max-16 {
		t.Fatalf("holds %d keys, capacity %d", s.Len(), max)
	}
	for age := 1; age <= n; age++ {
		seen, _ := s.Seen(ctx, key(n-age))
		switch {
		case age <= max*92/100 && !seen:
			t.Fatalf("the key recorded %d keys ago was evicted", age-1)
		case age > max*108/100 && seen:
			t.Fatalf("the key recorded %d keys ago is still held", age-1)
		}
	}
	if got, want := s.Evicted(), uint64(n-s.Len()); got != want {
		t.Fatalf("evicted %d, want %d", got, want)
	}
}
