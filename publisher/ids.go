package publisher

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// idChunk is how many ids' random bits one crypto/rand read fetches.
const idChunk = 32

// idGen hands out the event ids of one Publish call: UUIDv7s (RFC 9562)
// like uuid.NewV7's — 48 bits of Unix milliseconds, then 12 bits of the
// sub-millisecond time as a sequence that increases with every id the
// process makes, then 62 random bits — but with one clock reading for the
// whole call and one crypto/rand read per idChunk ids, instead of a lock,
// a clock reading and a read per id.
type idGen struct {
	next int64 // milliseconds<<12 | sequence of the next id
	left int   // ids reserved and not yet handed out
	rnd  [idChunk * 8]byte
	pos  int // bytes of rnd handed out
}

// lastV7 is milliseconds<<12 | sequence of the last id reserved in the
// process: ids are unique and increase in the order they are reserved.
var lastV7 atomic.Int64

// v7Time is what uuid.NewV7 takes from the clock: milliseconds<<12 plus
// the rest of the millisecond in 256 ns steps (0 to 3906).
func v7Time(t time.Time) int64 {
	nano := t.UnixNano()
	milli := nano / int64(time.Millisecond)
	return milli<<12 | (nano-milli*int64(time.Millisecond))>>8
}

// reserve sets g up to hand out n ids: n consecutive values after the
// process's last one and not before the clock.
func (g *idGen) reserve(n int) {
	g.left, g.pos = 0, len(g.rnd)
	if n < 1 {
		return
	}
	now := v7Time(time.Now())
	for {
		last := lastV7.Load()
		first := max(now, last+1)
		if lastV7.CompareAndSwap(last, first+int64(n)-1) {
			g.next, g.left = first, n
			return
		}
	}
}

// id returns the next id; more than reserved get a reservation of their
// own.
func (g *idGen) id() (uuid.UUID, error) {
	if g.left == 0 {
		g.reserve(1)
	}
	if g.pos == len(g.rnd) {
		n := min(g.left, idChunk) * 8
		g.pos = len(g.rnd) - n
		if _, err := rand.Read(g.rnd[g.pos:]); err != nil {
			return uuid.UUID{}, err
		}
	}
	var id uuid.UUID
	t := g.next
	milli := uint64(t >> 12)
	id[0], id[1], id[2], id[3], id[4], id[5] = byte(milli>>40), byte(milli>>32), byte(milli>>24),
		byte(milli>>16), byte(milli>>8), byte(milli)
	binary.BigEndian.PutUint16(id[6:], 0x7000|uint16(t&0xfff)) // version 7, sequence
	copy(id[8:], g.rnd[g.pos:g.pos+8])
	id[8] = id[8]&0x3f | 0x80 // variant 10
	g.pos += 8
	g.next++
	g.left--
	return id, nil
}
