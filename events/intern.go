package events

import (
	"hash/maphash"
	"sync/atomic"
)

// The fast decoders intern the strings that repeat from one event to the
// next (exchange and symbol): a decoder that finds the same bytes in the
// table returns the string stored there instead of allocating a new one,
// so a stream of market data for a set of symbols decodes them without
// allocating. Strings are immutable, so sharing one between events is
// safe. The table is fixed-size (internSize entries of at most
// internMaxLen bytes, so it holds at most a few tens of KiB); an entry is
// replaced by the next string that hashes to its slot, never freed. It is
// safe for concurrent use: each slot is one atomic pointer to an immutable
// entry. An entry also says whether its string is a valid routing-key
// segment, so that validating a decoded exchange or symbol costs nothing.
const (
	internSize   = 1024 // a power of two
	internMaxLen = 32
)

var (
	internSeed  = maphash.MakeSeed()
	internTable [internSize]atomic.Pointer[internEntry]
)

// internEntry is an interned string and whether it is a valid routing-key
// segment (ValidateSegment), worked out once when it enters the table.
type internEntry struct {
	s       string
	segment bool
}

// intern returns string(b), from the table when it holds it.
func intern(b []byte) string {
	s, _ := internSegment(b)
	return s
}

// internSegment is intern that also reports whether the string is a
// valid routing-key segment (so false for "").
func internSegment(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", false
	}
	if len(b) > internMaxLen {
		s := string(b)
		return s, ValidateSegment(s) == nil
	}
	slot := &internTable[maphash.Bytes(internSeed, b)&(internSize-1)]
	if e := slot.Load(); e != nil && e.s == string(b) {
		return e.s, e.segment
	}
	s := string(b)
	e := &internEntry{s: s, segment: ValidateSegment(s) == nil}
	slot.Store(e)
	return s, e.segment
}
