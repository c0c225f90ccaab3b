package middleware

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMemoryMaxEntries is the default capacity of a MemoryStore.
const DefaultMemoryMaxEntries = 100_000

// MemoryStore is a bounded in-process Store. Keys expire after their TTL
// (checked lazily: an expired key is dropped when it is looked up, and
// expired keys are swept from the oldest end when new keys are recorded, so no
// goroutine is involved). When full, recording a new key evicts the oldest
// record first; Evicted counts those, because an evicted key shortens the
// dedup window.
//
// A MemoryStore is safe for concurrent use. Its zero value is not usable (use
// NewMemoryStore). Keys recorded in one process are invisible to others: use a
// shared store (Redis, PostgreSQL) when several processes consume one group.
type MemoryStore struct {
	mu      sync.Mutex
	max     int
	expires map[string]int64 // key -> expiry (unix ns)
	// ring holds records in recording order. An entry whose expiry differs
	// from expires[key] is stale (the key was dropped or recorded again).
	ring    []memEntry
	head, n int
	evicted atomic.Uint64
}

type memEntry struct {
	key     string
	expires int64
}

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore) error

// WithMaxEntries bounds the number of keys a MemoryStore holds. Default:
// DefaultMemoryMaxEntries (100,000). Must be >= 1.
func WithMaxEntries(n int) MemoryOption {
	return func(s *MemoryStore) error {
		if n < 1 {
			return invalidOption("WithMaxEntries", n, "must be >= 1")
		}
		s.max = n
		return nil
	}
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...MemoryOption) (*MemoryStore, error) {
	s := &MemoryStore{max: DefaultMemoryMaxEntries}
	for _, o := range opts {
		if o == nil {
			return nil, invalidOption("MemoryOption", "nil", "nil option")
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	s.expires = make(map[string]int64, min(s.max, 1024))
	s.ring = make([]memEntry, min(s.max, 1024))
	return s, nil
}

// Seen implements Store.
func (s *MemoryStore) Seen(_ context.Context, key string) (bool, error) {
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.expires[key]
	if !ok {
		return false, nil
	}
	if now >= exp {
		delete(s.expires, key)
		return false, nil
	}
	return true, nil
}

// Record implements Store.
func (s *MemoryStore) Record(_ context.Context, key string, ttl time.Duration) error {
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.expires[key]; ok && now < exp {
		return nil
	}
	// Sweep expired and stale records from the oldest end (amortised O(1)).
	// An entry not yet expired stops the sweep: live or stale, it is
	// popped when its time comes or the store is full (popFront tells the
	// two apart), which saves a map lookup per record.
	for s.n > 0 && now >= s.ring[s.head].expires {
		s.popFront()
	}
	for len(s.expires) >= s.max || s.n >= 2*s.max {
		if s.popFront() {
			s.evicted.Add(1)
		}
	}
	exp := now + int64(ttl)
	s.expires[key] = exp
	s.pushBack(memEntry{key: key, expires: exp})
	return nil
}

// popFront removes the oldest ring entry and its key, if the entry is that
// key's current record; it reports whether a live key was removed.
func (s *MemoryStore) popFront() bool {
	e := s.ring[s.head]
	s.ring[s.head] = memEntry{}
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	if exp, ok := s.expires[e.key]; ok && exp == e.expires {
		delete(s.expires, e.key)
		return true
	}
	return false
}

func (s *MemoryStore) pushBack(e memEntry) {
	if s.n == len(s.ring) {
		grown := make([]memEntry, max(2*len(s.ring), 1))
		for i := range s.n {
			grown[i] = s.ring[(s.head+i)%len(s.ring)]
		}
		s.ring, s.head = grown, 0
	}
	s.ring[(s.head+s.n)%len(s.ring)] = e
	s.n++
}

// Len returns the number of keys held (expired ones not yet dropped included).
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.expires)
}

// Evicted returns how many keys were evicted because the store was full.
func (s *MemoryStore) Evicted() uint64 { return s.evicted.Load() }
