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
// expired keys are swept from the oldest end of a shard when new keys are
// recorded in it, so no goroutine is involved). When full, recording a new key evicts the oldest
// record first; Evicted counts those, because an evicted key shortens the
// dedup window.
//
// A store of at least 2×MemoryShardEntries entries is split into shards
// (up to 16, a power of two) by a hash of the key, each with its own lock
// and its own share of the capacity, so that handlers on several cores do
// not queue on one lock: each shard evicts its own oldest record. A key is
// then evicted after about WithMaxEntries newer keys, give or take the
// spread of the keys over the shards: for the default 100,000 entries, one
// standard deviation is about 1,200 keys (1.2%), and the newest 92% of the
// capacity are always held. A smaller store evicts in exact order.
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
	max    int
	seed   maphash.Seed
	shards []memShard
	// shardMask selects a key's shard from bits of its hash that neither
	// the slot index (the low bits) nor the tag (the top 7) use.
	shardMask uint64
	evicted   atomic.Uint64
}

// MemoryShardEntries is the least capacity of a MemoryStore's shard: a
// store is split in two at twice this, in four at four times, and so on up
// to 16 shards.
const MemoryShardEntries = 4096

// maxMemoryEntries bounds WithMaxEntries: records are numbered modulo 2^31
// in the index, which the ring (up to twice the capacity, rounded up to a
// power of two) must not reach.
const maxMemoryEntries = 1 << 29

// memShard is the keys of a MemoryStore whose hash selects it.
type memShard struct {
	mu  sync.Mutex
	max int
	// slots index the live keys: linear probing, a power-of-two size, at
	// most half full. A used slot holds its key's hash and the sequence
	// number of the key's current record, or a flight. tags has one byte
	// per slot, 0 for an empty one, else a few bits of the hash: a lookup
	// of a key not held — every new event — reads only this array, small
	// enough to stay in the CPU cache, not the slots.
	slots []memSlot
	tags  []uint8
	live  int // used slots: keys held
	// ring holds records in recording order, the oldest being seq head.
	// A record no slot points to is stale (its key was dropped or
	// recorded again). The ring is in blocks of 1<<shift records (a power
	// of two, at most 1024), record seq at s.at(seq); len(blocks) is a
	// power of two and a block is made when first written. Growing
	// doubles the block list and moves blocks, not records: a store that
	// grows to n records allocates about n records' room, not 2–4 times
	// that.
	blocks [][]memEntry
	shift  uint
	head   uint64
	n      int
	// keys holds the records' keys, joined (ns+id), in recording order:
	// a ring of bytes, a power of two long, key bytes at absolute offset
	// off at keys[off&(len(keys)-1)], never split at the end (a key that
	// would be skips to the start). Bytes khead to ktail are in use. A
	// record holds no pointer — the garbage collector scans none of the
	// ring — and keeps no message's memory alive (a key can be a slice
	// of a fetched batch).
	keys         []byte
	khead, ktail uint64

	// Flights are keys a Dedup middleware is handling (claim): not
	// recorded yet, and a second claim of one waits for it to end
	// (commit records the key, release drops it). A flight's slot holds
	// flightBit | its index in flights. They replace the Dedup's own key
	// locks on this store, in the same table: one hash and one lookup per
	// message for lock, lookup, record and unlock together.
	flights []memFlight
	freeFl  []uint32      // indexes of ended flights, for reuse
	nflight int           // flights in the table
	wake    chan struct{} // closed when a waited-for flight ends; nil: nobody waits
	evicted *atomic.Uint64

	_ [64]byte // keeps the next shard's lock off this one's cache lines
}

// flightBit marks a slot holding a flight instead of a record.
const flightBit = 1 << 31

type memFlight struct {
	key    storeKey
	gen    uint32 // counts the uses of this index: a flight token names one
	waited bool   // another claim waits for it to end
}

// flightToken names one flight, for commit and release.
type flightToken struct{ idx, gen uint32 }

// memSlot is a used slot (its tag is not 0): ref is its record's seq
// modulo flightBit, or flightBit | a flight's index; hash is the low half
// of its key's hash, which holds its home slot, so that moving slots
// reads no record. 8 bytes a slot, the table being kept at most half full.
type memSlot struct {
	ref, hash uint32
}

type memEntry struct {
	off     uint64 // the key's offset in keys
	hash    uint64
	expires int64 // monoNow reading
	klen    int
}

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore) error

// WithMaxEntries bounds the number of keys a MemoryStore holds. Default:
// DefaultMemoryMaxEntries (100,000). Must be from 1 to 2^29 (536,870,912).
func WithMaxEntries(n int) MemoryOption {
	return func(s *MemoryStore) error {
		if n < 1 || n > maxMemoryEntries {
			return invalidOption("WithMaxEntries", n, "must be from 1 to 536870912")
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
	n := 1
	for n < 16 && s.max >= 2*n*MemoryShardEntries {
		n *= 2
	}
	s.split(n)
	return s, nil
}

// split makes the store's n shards (a power of two), sharing its capacity.
func (s *MemoryStore) split(n int) {
	s.seed = maphash.MakeSeed()
	s.shards = make([]memShard, n)
	s.shardMask = uint64(n - 1)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.max = s.max / n
		if i < s.max%n {
			sh.max++
		}
		sh.evicted = &s.evicted
		ring := pow2(min(max(sh.max, 1), 1024))
		for 1<<sh.shift < ring {
			sh.shift++
		}
		sh.blocks = [][]memEntry{make([]memEntry, ring)}
		sh.keys = make([]byte, 32*ring)
		sh.slots = make([]memSlot, 2*ring)
		sh.tags = make([]uint8, 2*ring)
	}
}

// shard returns the shard of the keys of hash h.
func (s *MemoryStore) shard(h uint64) *memShard {
	return &s.shards[(h>>40)&s.shardMask]
}

// pow2 returns the least power of two >= n (n >= 1).
func pow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// storeKey is a key in two parts, ns+id, so that a Dedup middleware
// need not join its namespace and the message's key into a new string
// for every message; the Store methods' keys have ns "". Keys are
// compared, and hashed, as the joined string.
type storeKey struct{ ns, id string }

func (k storeKey) String() string { return k.ns + k.id }

func (k storeKey) eq(o storeKey) bool {
	if len(k.ns) == len(o.ns) {
		return k.id == o.id && k.ns == o.ns
	}
	if len(k.ns)+len(k.id) != len(o.ns)+len(o.id) {
		return false
	}
	if len(k.ns) > len(o.ns) {
		k, o = o, k
	}
	// k.ns is the shorter prefix: o.ns = k.ns + the head of k.id.
	n := len(o.ns) - len(k.ns)
	return o.ns[:len(k.ns)] == k.ns && o.ns[len(k.ns):] == k.id[:n] && k.id[n:] == o.id
}

// hash hashes the joined key: maphash.String of it, without joining.
func (s *MemoryStore) hash(k storeKey) uint64 {
	if k.ns == "" {
		return maphash.String(s.seed, k.id)
	}
	var h maphash.Hash
	h.SetSeed(s.seed)
	_, _ = h.WriteString(k.ns)
	_, _ = h.WriteString(k.id)
	return h.Sum64()
}

// tag is the tags byte of hash h: never 0. The slot index comes from the
// low bits of h, the tag from the high ones.
func tag(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// entry returns the record of a used slot; s.mu is held.
func (s *memShard) entry(sl memSlot) *memEntry {
	return s.at(uint64(sl.ref))
}

// at returns the ring's place of record seq (only its bits below
// flightBit count: the ring is smaller than that); s.mu is held.
func (s *memShard) at(seq uint64) *memEntry {
	b := s.blocks[(seq>>s.shift)&uint64(len(s.blocks)-1)]
	return &b[seq&(1<<s.shift-1)]
}

// isFlight reports whether slot sl holds a flight.
func isFlight(sl memSlot) bool { return sl.ref&flightBit != 0 }

// flight returns the flight of a flight slot; s.mu is held.
func (s *memShard) flight(sl memSlot) *memFlight {
	return &s.flights[sl.ref&^flightBit]
}

// holds reports whether used slot sl is key's; s.mu is held.
func (s *memShard) holds(sl memSlot, key storeKey) bool {
	if isFlight(sl) {
		return s.flight(sl).key.eq(key)
	}
	e := s.entry(sl)
	if e.klen != len(key.ns)+len(key.id) {
		return false
	}
	b := s.keys[e.off&uint64(len(s.keys)-1):][:e.klen]
	return string(b[:len(key.ns)]) == key.ns && string(b[len(key.ns):]) == key.id
}

// putKey appends key to keys, growing it if needed, and returns its
// offset; s.mu is held.
func (s *memShard) putKey(key storeKey) uint64 {
	n := uint64(len(key.ns) + len(key.id))
	for {
		size := uint64(len(s.keys))
		off := s.ktail
		if pos := off & (size - 1); pos+n > size {
			off += size - pos // to the start: a key is never split
		}
		if off+n-s.khead <= size {
			b := s.keys[off&(size-1):]
			copy(b[copy(b, key.ns):], key.id)
			s.ktail = off + n
			return off
		}
		s.growKeys(max(2*size, uint64(pow2(int(n)))))
	}
}

// growKeys moves keys into a ring of size bytes (a power of two, more
// than in use): every byte keeps its absolute offset.
func (s *memShard) growKeys(size uint64) {
	old := s.keys
	s.keys = make([]byte, size)
	for p := s.khead; p < s.ktail; {
		o, d := p&uint64(len(old)-1), p&(size-1)
		l := min(s.ktail-p, uint64(len(old))-o, size-d)
		copy(s.keys[d:d+l], old[o:o+l])
		p += l
	}
}

// find returns the slot of key, or -1; s.mu is held.
func (s *memShard) find(key storeKey, h uint64) int {
	mask := len(s.slots) - 1
	t := tag(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch s.tags[i] {
		case 0:
			return -1
		case t:
			if s.holds(s.slots[i], key) {
				return i
			}
		}
	}
}

// deleteSlot empties slot i, moving later slots of its probe run back so
// that every key stays reachable from its home slot; s.mu is held. The
// caller counts the key out (live or nflight).
func (s *memShard) deleteSlot(i int) {
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
}

// insert adds a slot for the record seq of a key not in the table; s.mu
// is held.
func (s *memShard) insert(h, seq uint64) {
	s.insertSlot(memSlot{ref: uint32(seq) &^ flightBit, hash: uint32(h)}, tag(h))
	s.live++
}

// insertSlot adds sl (tag t), of a key not in the table, growing it first
// if needed; s.mu is held. sl's record or flight is already in place.
func (s *memShard) insertSlot(sl memSlot, t uint8) {
	if 2*(s.live+s.nflight+1) > len(s.slots) {
		old, oldTags := s.slots, s.tags
		s.slots = make([]memSlot, 2*len(old))
		s.tags = make([]uint8, 2*len(old))
		for i, o := range old {
			if oldTags[i] != 0 {
				s.place(o, oldTags[i])
			}
		}
	}
	s.place(sl, t)
}

func (s *memShard) place(sl memSlot, t uint8) {
	mask := len(s.slots) - 1
	i := int(sl.hash) & mask
	for s.tags[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i], s.tags[i] = sl, t
}

// Seen implements Store.
func (s *MemoryStore) Seen(_ context.Context, k string) (bool, error) {
	key := storeKey{id: k}
	h := s.hash(key)
	sh := s.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.seen(key, h), nil
}

// seen is Seen in the shard of key; s.mu is held.
func (s *memShard) seen(key storeKey, h uint64) bool {
	i := s.find(key, h)
	if i < 0 {
		return false // a new key, the common case: no clock read
	}
	if isFlight(s.slots[i]) {
		return false // being handled, not recorded yet
	}
	if monoNow() >= s.entry(s.slots[i]).expires {
		s.deleteSlot(i) // its record is stale now
		s.live--
		return false
	}
	return true
}

// Record implements Store. A key a Dedup middleware is handling (in
// flight) is recorded too: its flight ends.
func (s *MemoryStore) Record(_ context.Context, k string, ttl time.Duration) error {
	key := storeKey{id: k}
	s.commit(key, s.hash(key), ttl)
	return nil
}

// record records key (hash h) for ttl from now, unless it is recorded and
// not expired; a flight of key becomes its record. s.mu is held.
func (s *memShard) record(key storeKey, h uint64, now int64, ttl time.Duration) {
	i := s.find(key, h)
	flight := false
	if i >= 0 {
		if isFlight(s.slots[i]) {
			flight = true
		} else if now < s.entry(s.slots[i]).expires {
			return
		}
	}
	// Found here, key has expired: it counts as held until it is recorded
	// anew below (or swept first). A flight is not counted (live) until
	// then, and sweeps and evictions never remove it.
	moved := false
	// Sweep expired and stale records from the oldest end (amortised O(1)).
	// A record not yet expired stops the sweep: live or stale, it is
	// popped when its time comes or the store is full (popFront tells the
	// two apart).
	for s.n > 0 && now >= s.at(s.head).expires {
		moved = s.popFront() || moved
	}
	for s.live >= s.max || s.n >= 2*s.max {
		if s.popFront() {
			moved = true
			s.evicted.Add(1)
		}
	}
	seq := s.pushBack(memEntry{off: s.putKey(key), klen: len(key.ns) + len(key.id), hash: h, expires: now + int64(ttl)})
	if i >= 0 && moved {
		i = s.find(key, h) // deletions may have shifted its slot, or removed it
	}
	if i < 0 {
		s.insert(h, seq)
		return
	}
	if flight {
		s.endFlight(s.slots[i])
		s.live++
	}
	s.slots[i].ref = uint32(seq) &^ flightBit // an expired record is stale now
}

// claim starts a Dedup middleware's handling of key (hash h): seen is
// true when key is recorded and has not expired; else key is in flight
// until commit or release — Seen answers false for it, and another claim
// of it waits until then, or until ctx ends (its error is returned).
func (s *MemoryStore) claim(ctx context.Context, key storeKey, h uint64) (seen bool, tok flightToken, err error) {
	sh := s.shard(h)
	for {
		sh.mu.Lock()
		seen, tok, wake := sh.claim(key, h)
		sh.mu.Unlock()
		if wake == nil {
			return seen, tok, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return false, flightToken{}, ctx.Err()
		}
	}
}

// claim is MemoryStore.claim in the shard of key, or, when key is in
// flight already, the channel to wait on before trying again; s.mu is
// held.
func (s *memShard) claim(key storeKey, h uint64) (seen bool, tok flightToken, wake chan struct{}) {
	i := s.find(key, h)
	if i < 0 {
		tok = s.newFlight(key)
		s.insertSlot(memSlot{ref: flightBit | tok.idx, hash: uint32(h)}, tag(h))
		return false, tok, nil
	}
	sl := s.slots[i]
	if isFlight(sl) {
		s.flight(sl).waited = true
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		return false, flightToken{}, s.wake
	}
	if monoNow() < s.entry(sl).expires {
		return true, flightToken{}, nil
	}
	// Expired: its record is stale now, the key in flight.
	tok = s.newFlight(key)
	s.slots[i].ref = flightBit | tok.idx
	s.live--
	return false, tok, nil
}

// commit ends the flight of key (hash h) by recording it for ttl. Ended
// already (Record recorded the key), it records key as Record would.
func (s *MemoryStore) commit(key storeKey, h uint64, ttl time.Duration) {
	now := monoNow()
	sh := s.shard(h)
	sh.mu.Lock()
	sh.record(key, h, now, ttl)
	sh.mu.Unlock()
}

// release ends the flight tok of key (hash h) without recording it: a
// later claim handles key again.
func (s *MemoryStore) release(key storeKey, h uint64, tok flightToken) {
	sh := s.shard(h)
	sh.mu.Lock()
	if i := sh.find(key, h); i >= 0 {
		if sl := sh.slots[i]; sl.ref == flightBit|tok.idx && sh.flight(sl).gen == tok.gen {
			sh.deleteSlot(i)
			sh.endFlight(sl)
		}
	}
	sh.mu.Unlock()
}

// newFlight returns the token of a new flight of key; s.mu is held. The
// caller puts it in a slot.
func (s *memShard) newFlight(key storeKey) flightToken {
	var idx uint32
	if n := len(s.freeFl); n > 0 {
		idx = s.freeFl[n-1]
		s.freeFl = s.freeFl[:n-1]
	} else {
		idx = uint32(len(s.flights))
		s.flights = append(s.flights, memFlight{})
	}
	f := &s.flights[idx]
	f.key, f.waited = key, false
	s.nflight++
	return flightToken{idx: idx, gen: f.gen}
}

// endFlight frees the flight of slot sl, waking the claims waiting for
// it; s.mu is held. The caller empties or reuses the slot.
func (s *memShard) endFlight(sl memSlot) {
	f := s.flight(sl)
	if f.waited && s.wake != nil {
		close(s.wake) // they look again: recorded, or theirs to claim
		s.wake = nil
	}
	f.key, f.waited = storeKey{}, false
	f.gen++
	s.freeFl = append(s.freeFl, sl.ref&^flightBit)
	s.nflight--
}

// flightsHeld returns the number of keys in flight.
func (s *MemoryStore) flightsHeld() int {
	return s.sum(func(sh *memShard) int { return sh.nflight })
}

// sum adds f of every shard, each read under its lock.
func (s *MemoryStore) sum(f func(*memShard) int) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += f(sh)
		sh.mu.Unlock()
	}
	return n
}

// popFront removes the oldest record and its key, if the record is that
// key's current one; it reports whether a live key was removed.
func (s *memShard) popFront() bool {
	seq := s.head
	e := s.at(seq)
	h := e.hash
	s.khead = e.off + uint64(e.klen)
	s.head++
	s.n--
	mask := len(s.slots) - 1
	t := tag(h)
	for i := int(h) & mask; s.tags[i] != 0; i = (i + 1) & mask {
		if s.tags[i] == t && s.slots[i].ref == uint32(seq)&^flightBit {
			s.deleteSlot(i)
			s.live--
			return true
		}
	}
	return false
}

// pushBack appends e to the ring and returns its seq.
func (s *memShard) pushBack(e memEntry) uint64 {
	if s.n == len(s.blocks)<<s.shift {
		s.growRing()
	}
	seq := s.head + uint64(s.n)
	bi := (seq >> s.shift) & uint64(len(s.blocks)-1)
	if s.blocks[bi] == nil {
		s.blocks[bi] = make([]memEntry, 1<<s.shift)
	}
	s.blocks[bi][seq&(1<<s.shift-1)] = e
	s.n++
	return seq
}

// growRing doubles the room of the full ring. Block number q (seq>>shift)
// lives at q mod len(blocks): each block moves to its place in the longer
// list. Only the block of the oldest record may also hold the newest ones
// (when head is not at a block's start): those move to a block of their
// own.
func (s *memShard) growRing() {
	nb := uint64(len(s.blocks))
	grown := make([][]memEntry, 2*nb)
	q0 := s.head >> s.shift
	for q := q0; q < q0+nb; q++ {
		grown[q&(2*nb-1)] = s.blocks[q&(nb-1)]
	}
	if off := s.head & (1<<s.shift - 1); off > 0 {
		old := grown[q0&(2*nb-1)]
		split := make([]memEntry, 1<<s.shift)
		copy(split[:off], old[:off])
		clear(old[:off])
		grown[(q0+nb)&(2*nb-1)] = split
	}
	s.blocks = grown
}

// Len returns the number of keys held (expired ones not yet dropped included).
func (s *MemoryStore) Len() int {
	return s.sum(func(sh *memShard) int { return sh.live })
}

// Evicted returns how many keys were evicted because the store was full.
func (s *MemoryStore) Evicted() uint64 { return s.evicted.Load() }
