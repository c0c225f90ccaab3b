package publisher

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestAppendUUIDMatchesString(t *testing.T) {
	ids := []uuid.UUID{uuid.Nil, uuid.Max}
	for range 100 {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if got, want := string(appendUUID([]byte("x"), id)), "x"+id.String(); got != want {
			t.Fatalf("appendUUID = %q, want %q", got, want)
		}
	}
}

// TestIDGen: the ids of a call and of successive calls are UUIDv7s (version
// 7, variant 10, the millisecond time of the call), strictly increasing
// (byte order = time order) and unique, also across goroutines.
func TestIDGen(t *testing.T) {
	before := time.Now().UnixMilli()
	var prev uuid.UUID
	for _, n := range []int{1, 3, idChunk, idChunk + 1, 3*idChunk + 5, 0} {
		g := newIDGen(n)
		for i := range n + 2 { // two more than reserved
			id, err := g.id()
			if err != nil {
				t.Fatal(err)
			}
			if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
				t.Fatalf("call of %d, id %d: %s is version %d variant %v", n, i, id, id.Version(), id.Variant())
			}
			if bytes.Compare(id[:], prev[:]) <= 0 {
				t.Fatalf("call of %d, id %d: %s not after %s", n, i, id, prev)
			}
			prev = id
		}
	}
	ms := time.Unix(id7Seconds(prev)).UnixMilli()
	if after := time.Now().UnixMilli(); ms < before || ms > after {
		t.Errorf("last id's time %d ms, want within [%d, %d]", ms, before, after)
	}

	const goroutines, calls, per = 4, 50, 20
	ids := make(chan uuid.UUID, goroutines*calls*per)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range calls {
				g := newIDGen(per)
				for range per {
					id, err := g.id()
					if err != nil {
						t.Error(err)
						return
					}
					ids <- id
				}
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := make(map[uuid.UUID]bool)
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
	}
}

// id7Seconds returns the Unix time of a UUIDv7 as seconds and nanoseconds.
func id7Seconds(id uuid.UUID) (int64, int64) {
	ms := int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
	return ms / 1000, ms % 1000 * int64(time.Millisecond)
}
