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
// string.
const (
	internSize   = 1024 // a power of two
	internMaxLen = 32
)

var (
	internSeed  = maphash.MakeSeed()
	internTable [internSize]atomic.Pointer[string]
)

// intern returns string(b), from the table when it holds it.
func intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > internMaxLen {
		return string(b)
	}
	slot := &internTable[maphash.Bytes(internSeed, b)&(internSize-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}
