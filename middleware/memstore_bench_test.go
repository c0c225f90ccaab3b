package middleware

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkMemoryStoreNewKeys is the store's part of every new event a
// Dedup middleware handles: claim a key never seen, then commit it, on a
// store kept full (each commit evicts the oldest key), from as many
// goroutines as GOMAXPROCS.
func BenchmarkMemoryStoreNewKeys(b *testing.B) {
	for _, max := range []int{10_000, DefaultMemoryMaxEntries} {
		b.Run(strconv.Itoa(max), func(b *testing.B) {
			s, err := NewMemoryStore(WithMaxEntries(max))
			if err != nil {
				b.Fatal(err)
			}
			const ns = "trades-group:"
			keys := make([]string, 4*max)
			for i := range keys {
				keys[i] = "binance:BTC/USDT:" + strconv.Itoa(100_000_000+i)
			}
			ctx := context.Background()
			for _, k := range keys[:max] { // fill it
				key := storeKey{ns: ns, id: k}
				s.commit(key, s.hash(key), time.Hour)
			}
			var next atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					key := storeKey{ns: ns, id: keys[(uint64(max)+i)%uint64(len(keys))]}
					h := s.hash(key)
					seen, _, err := s.claim(ctx, key, h)
					if err != nil {
						b.Fatal(err)
					}
					if !seen { // seen: a goroutine stalled while the keys came round again
						s.commit(key, h, time.Hour)
					}
				}
			})
		})
	}
}
