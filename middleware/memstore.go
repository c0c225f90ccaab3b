package middleware

import (
	"context"
	"hash/maphash"
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
//
// Keys are compared exactly (a hash only finds candidates). The index is an
// open-addressing table without pointers, which the garbage collector does
// not scan, with a byte of tag per slot: looking up a key that is not
// recorded — every new event — reads a cache line or two of the tags only.
type MemoryStore struct {
	mu   sync.Mutex
	max  int
	seed maphash.Seed
	// slots index the live keys: linear probing, a power-of-two size, at
	// most half full. A used slot holds its key's hash and the sequence
	// number (+1; 0 is an empty slot) of the key's current record. tags
	// has one byte per slot, 0 for an empty one, else a few bits of the
	// hash: a lookup of a key not held — every new event — reads only
	// this array, small enough to stay in the CPU cache, not the slots.
	slots []memSlot
	tags  []uint8
	live  int // used slots: keys held
	// ring holds records in recording order, record seq at
	// ring[seq&(len(ring)-1)], the oldest being seq head. A record no slot
	// points to is stale (its key was dropped or recorded again).
	ring    []memEntry
	head    uint64
	n       int
	evicted atomic.Uint64
}

type memSlot struct {
	hash uint64
	seq1 uint64 // record seq + 1; 0: empty
}

type memEntry struct {
	key     string
	hash    uint64
	expires int64 // monoNow reading
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
	s := &MemoryStore{max: DefaultMemoryMaxEntries, seed: maphash.MakeSeed()}
	for _, o := range opts {
		if o == nil {
			return nil, invalidOption("MemoryOption", "nil", "nil option")
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	ring := pow2(min(s.max, 1024))
	s.ring = make([]memEntry, ring)
	s.slots = make([]memSlot, 2*ring)
	s.tags = make([]uint8, 2*ring)
	return s, nil
}

// pow2 returns the least power of two >= n (n >= 1).
func pow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

func (s *MemoryStore) hash(key string) uint64 { return maphash.String(s.seed, key) }

// tag is the tags byte of hash h: never 0. The slot index comes from the
// low bits of h, the tag from the high ones.
func tag(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// entry returns the record of a used slot; s.mu is held.
func (s *MemoryStore) entry(sl memSlot) *memEntry {
	return &s.ring[(sl.seq1-1)&uint64(len(s.ring)-1)]
}

// find returns the slot of key, or -1; s.mu is held.
func (s *MemoryStore) find(key string, h uint64) int {
	mask := len(s.slots) - 1
	t := tag(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch s.tags[i] {
		case 0:
			return -1
		case t:
			if sl := s.slots[i]; sl.hash == h && s.entry(sl).key == key {
				return i
			}
		}
	}
}

// deleteSlot empties slot i, moving later slots of its probe run back so
// that every key stays reachable from its home slot; s.mu is held.
func (s *MemoryStore) deleteSlot(i int) {
	mask := len(s.slots) - 1
	for j := (i + 1) & mask; s.tags[j] != 0; j = (j + 1) & mask {
		home := int(s.slots[j].hash) & mask
		// Slot j stays if its home lies cyclically in (i, j].
		if (i <= j && i < home && home <= j) || (i > j && (i < home || home <= j)) {
			continue
		}
		s.slots[i], s.tags[i] = s.slots[j], s.tags[j]
		i = j
	}
	s.slots[i], s.tags[i] = memSlot{}, 0
	s.live--
}

// insert adds a slot for the record seq of a key not in the table; s.mu
// is held.
func (s *MemoryStore) insert(h, seq uint64) {
	if 2*(s.live+1) > len(s.slots) {
		old := s.slots
		s.slots = make([]memSlot, 2*len(old))
		s.tags = make([]uint8, 2*len(old))
		for _, sl := range old {
			if sl.seq1 != 0 {
				s.place(sl)
			}
		}
	}
	s.place(memSlot{hash: h, seq1: seq + 1})
	s.live++
}

func (s *MemoryStore) place(sl memSlot) {
	mask := len(s.slots) - 1
	i := int(sl.hash) & mask
	for s.tags[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i], s.tags[i] = sl, tag(sl.hash)
}

// Seen implements Store.
func (s *MemoryStore) Seen(_ context.Context, key string) (bool, error) {
	h := s.hash(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(key, h)
	if i < 0 {
		return false, nil // a new key, the common case: no clock read
	}
	if monoNow() >= s.entry(s.slots[i]).expires {
		s.deleteSlot(i) // its record is stale now
		return false, nil
	}
	return true, nil
}

// Record implements Store.
func (s *MemoryStore) Record(_ context.Context, key string, ttl time.Duration) error {
	h := s.hash(key)
	now := monoNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(key, h)
	if i >= 0 && now < s.entry(s.slots[i]).expires {
		return nil
	}
	// Found here, key has expired: it counts as held until it is recorded
	// anew below (or swept first).
	moved := false
	// Sweep expired and stale records from the oldest end (amortised O(1)).
	// A record not yet expired stops the sweep: live or stale, it is
	// popped when its time comes or the store is full (popFront tells the
	// two apart).
	for s.n > 0 && now >= s.ring[s.head&uint64(len(s.ring)-1)].expires {
		moved = s.popFront() || moved
	}
	for s.live >= s.max || s.n >= 2*s.max {
		if s.popFront() {
			moved = true
			s.evicted.Add(1)
		}
	}
	seq := s.pushBack(memEntry{key: key, hash: h, expires: now + int64(ttl)})
	if i >= 0 && moved {
		i = s.find(key, h) // deletions may have shifted its slot, or removed it
	}
	if i >= 0 {
		s.slots[i].seq1 = seq + 1 // the expired record is stale now
		return nil
	}
	s.insert(h, seq)
	return nil
}

// popFront removes the oldest record and its key, if the record is that
// key's current one; it reports whether a live key was removed.
func (s *MemoryStore) popFront() bool {
	seq := s.head
	e := &s.ring[seq&uint64(len(s.ring)-1)]
	h := e.hash
	*e = memEntry{}
	s.head++
	s.n--
	mask := len(s.slots) - 1
	t := tag(h)
	for i := int(h) & mask; s.tags[i] != 0; i = (i + 1) & mask {
		if s.tags[i] == t && s.slots[i].seq1 == seq+1 {
			s.deleteSlot(i)
			return true
		}
	}
	return false
}

// pushBack appends e to the ring and returns its seq.
func (s *MemoryStore) pushBack(e memEntry) uint64 {
	if s.n == len(s.ring) {
		grown := make([]memEntry, 2*len(s.ring))
		gm, om := uint64(len(grown)-1), uint64(len(s.ring)-1)
		for seq := s.head; seq < s.head+uint64(s.n); seq++ {
			grown[seq&gm] = s.ring[seq&om]
		}
		s.ring = grown
	}
	seq := s.head + uint64(s.n)
	s.ring[seq&uint64(len(s.ring)-1)] = e
	s.n++
	return seq
}

// Len returns the number of keys held (expired ones not yet dropped included).
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// Evicted returns how many keys were evicted because the store was full.
func (s *MemoryStore) Evicted() uint64 { return s.evicted.Load() }
