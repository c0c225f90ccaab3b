package middleware

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// refStore is the MemoryStore as it was before its index became an
// open-addressing table (a map of keys and a ring of records): the model
// TestMemoryStoreMatchesModel compares the store with.
type refStore struct {
	max     int
	expires map[string]int64
	ring    []refEntry
	head, n int
	evicted int
}

type refEntry struct {
	key     string
	expires int64
}

func newRefStore(max int) *refStore {
	return &refStore{max: max, expires: map[string]int64{}, ring: make([]refEntry, 1)}
}

func (s *refStore) seen(key string) bool {
	now := time.Now().UnixNano()
	exp, ok := s.expires[key]
	if !ok {
		return false
	}
	if now >= exp {
		delete(s.expires, key)
		return false
	}
	return true
}

func (s *refStore) record(key string, ttl time.Duration) {
	now := time.Now().UnixNano()
	if exp, ok := s.expires[key]; ok && now < exp {
		return
	}
	for s.n > 0 && now >= s.ring[s.head].expires {
		s.popFront()
	}
	for len(s.expires) >= s.max || s.n >= 2*s.max {
		if s.popFront() {
			s.evicted++
		}
	}
	exp := now + int64(ttl)
	s.expires[key] = exp
	if s.n == len(s.ring) {
		grown := make([]refEntry, 2*len(s.ring))
		for i := range s.n {
			grown[i] = s.ring[(s.head+i)%len(s.ring)]
		}
		s.ring, s.head = grown, 0
	}
	s.ring[(s.head+s.n)%len(s.ring)] = refEntry{key: key, expires: exp}
	s.n++
}

func (s *refStore) popFront() bool {
	e := s.ring[s.head]
	s.ring[s.head] = refEntry{}
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	if exp, ok := s.expires[e.key]; ok && exp == e.expires {
		delete(s.expires, e.key)
		return true
	}
	return false
}

// refModel is a refStore for each shard of a MemoryStore, with its
// capacity: each key goes to the model of its shard in the store.
type refModel struct {
	store  *MemoryStore
	shards []*refStore
}

func newRefModel(s *MemoryStore) *refModel {
	m := &refModel{store: s}
	for i := range s.shards {
		m.shards = append(m.shards, newRefStore(s.shards[i].max))
	}
	return m
}

func (m *refModel) of(key string) *refStore {
	return m.shards[(m.store.hash(storeKey{id: key})>>40)&m.store.shardMask]
}

func (m *refModel) seen(key string) bool { return m.of(key).seen(key) }

func (m *refModel) record(key string, ttl time.Duration) { m.of(key).record(key, ttl) }

// counts returns the keys held, the keys evicted and the records in the
// ring (live or stale), over all shards.
func (m *refModel) counts() (keys, evicted, records int) {
	for _, r := range m.shards {
		keys, evicted, records = keys+len(r.expires), evicted+r.evicted, records+r.n
	}
	return
}

// counts returns what refModel.counts does, of the store.
func (s *MemoryStore) counts() (keys, evicted, records int) {
	return s.Len(), int(s.Evicted()), s.sum(func(sh *memShard) int { return sh.n })
}

// modelCases are the capacities of the model tests, and the shards to
// split the store in (NewMemoryStore splits only large stores).
var modelCases = []struct{ max, shards int }{
	{1, 1}, {2, 1}, {3, 1}, {5, 1}, {8, 1}, {64, 1}, {1500, 1}, {8, 4}, {64, 4}, {1500, 8},
}

// newModelStore returns a store of capacity max split in shards, and its
// model.
func newModelStore(t *testing.T, max, shards int) (*MemoryStore, *refModel) {
	s, err := NewMemoryStore(WithMaxEntries(max))
	if err != nil {
		t.Fatal(err)
	}
	s.split(shards)
	return s, newRefModel(s)
}

// TestMemoryStoreMatchesModel runs random Seen, Record and clock steps on
// a MemoryStore and on the model of its documented behaviour, and checks
// that they agree on every answer, on Len and on Evicted — small
// capacities and key spaces, so that probe runs collide, wrap around the
// table and are shifted back on deletion, and the table and ring grow.
func TestMemoryStoreMatchesModel(t *testing.T) {
	for _, c := range modelCases {
		max := c.max
		t.Run(fmt.Sprintf("max=%d/shards=%d", max, c.shards), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				rng := rand.New(rand.NewPCG(uint64(max), 9))
				s, ref := newModelStore(t, max, c.shards)
				keys := 3 * max
				for step := range 20_000 {
					k := fmt.Sprint("k", rng.IntN(keys))
					switch op := rng.IntN(10); {
					case op < 4:
						got, _ := s.Seen(ctx, k)
						if want := ref.seen(k); got != want {
							t.Fatalf("step %d: Seen(%s) = %v, model %v", step, k, got, want)
						}
					case op < 9:
						ttl := time.Duration(1+rng.IntN(20)) * time.Second
						_ = s.Record(ctx, k, ttl)
						ref.record(k, ttl)
					default:
						time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
					}
					sk, e, r := s.counts()
					if mk, me, mr := ref.counts(); sk != mk || e != me || r != mr {
						t.Fatalf("step %d: len %d evicted %d records %d, model %d %d %d", step, sk, e, r, mk, me, mr)
					}
				}
				// Every key answers as in the model.
				for i := range keys {
					k := fmt.Sprint("k", i)
					got, _ := s.Seen(ctx, k)
					if want := ref.seen(k); got != want {
						t.Fatalf("end: Seen(%s) = %v, model %v", k, got, want)
					}
				}
			})
		})
	}
}

// TestMemoryStoreFlightsMatchModel mixes the Dedup middleware's flights
// (claim, then commit or release) into the random steps of
// TestMemoryStoreMatchesModel: a claim answers as Seen does, a commit
// records as Record does, a release changes nothing, and a flight is
// never counted, swept or evicted as a record — also when Record records
// its key meanwhile, or the key expires and is claimed again while the
// older token is still out (its release must not end the newer flight).
func TestMemoryStoreFlightsMatchModel(t *testing.T) {
	for _, c := range modelCases {
		max := c.max
		t.Run(fmt.Sprintf("max=%d/shards=%d", max, c.shards), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				rng := rand.New(rand.NewPCG(uint64(max), 11))
				s, ref := newModelStore(t, max, c.shards)
				type claimed struct {
					key storeKey
					tok flightToken
				}
				var out []claimed           // tokens not yet committed or released
				active := map[string]bool{} // keys with a flight in the store
				keys := 3 * max
				for step := range 20_000 {
					n := rng.IntN(keys)
					// Half the keys in two parts, as Dedup makes them: they
					// must meet the joined keys of Seen and Record.
					k := fmt.Sprint("k", n)
					key := storeKey{id: k}
					if n%2 == 0 {
						key = storeKey{ns: "k", id: fmt.Sprint(n)}
					}
					switch op := rng.IntN(12); {
					case op < 3:
						got, _ := s.Seen(ctx, k)
						if want := ref.seen(k); got != want {
							t.Fatalf("step %d: Seen(%s) = %v, model %v", step, k, got, want)
						}
					case op < 5:
						ttl := time.Duration(1+rng.IntN(20)) * time.Second
						_ = s.Record(ctx, k, ttl)
						ref.record(k, ttl)
						delete(active, k) // a flight of k, if any, ended recorded
					case op < 8:
						if active[k] {
							continue // a second claim would wait
						}
						seen, tok, err := s.claim(ctx, key, s.hash(key))
						if err != nil {
							t.Fatal(err)
						}
						if want := ref.seen(k); seen != want {
							t.Fatalf("step %d: claim(%s) seen = %v, model %v", step, k, seen, want)
						}
						if !seen {
							out = append(out, claimed{key, tok})
							active[k] = true
						}
					case op < 11:
						if len(out) == 0 {
							continue
						}
						j := rng.IntN(len(out))
						c := out[j]
						out = append(out[:j], out[j+1:]...)
						ck := c.key.String()
						if op < 10 {
							ttl := time.Duration(1+rng.IntN(20)) * time.Second
							s.commit(c.key, s.hash(c.key), ttl)
							ref.record(ck, ttl)
							delete(active, ck)
						} else {
							current := hasToken(s, c.key, c.tok)
							s.release(c.key, s.hash(c.key), c.tok)
							if current {
								delete(active, ck)
							}
						}
					default:
						time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
					}
					sk, e, r := s.counts()
					if mk, me, mr := ref.counts(); sk != mk || e != me || r != mr {
						t.Fatalf("step %d: len %d evicted %d records %d, model %d %d %d", step, sk, e, r, mk, me, mr)
					}
					if s.flightsHeld() != len(active) {
						t.Fatalf("step %d: %d flights, want %d", step, s.flightsHeld(), len(active))
					}
				}
				for _, c := range out {
					s.release(c.key, s.hash(c.key), c.tok)
				}
				if n := s.flightsHeld(); n != 0 {
					t.Fatalf("%d flights left after releasing every token", n)
				}
				for i := range keys {
					k := fmt.Sprint("k", i)
					got, _ := s.Seen(ctx, k)
					if want := ref.seen(k); got != want {
						t.Fatalf("end: Seen(%s) = %v, model %v", k, got, want)
					}
				}
			})
		})
	}
}

// hasToken reports whether key's flight in s is the one tok names.
func hasToken(s *MemoryStore, key storeKey, tok flightToken) bool {
	h := s.hash(key)
	sh := s.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.find(key, h)
	return i >= 0 && sh.slots[i].ref == flightBit|tok.idx && sh.flight(sh.slots[i]).gen == tok.gen
}
