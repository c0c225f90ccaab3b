package mem

import "github.com/tradebus/tradebus/transport/driver"

// Chunk bounds of an arena: what one message kept unacked can hold alive.
const (
	arenaBytes   = 32 << 10
	arenaStrings = 1 << 10
	arenaEntries = 128
)

// arena hands out the copies one SendBatch or take makes — entries, flat
// metadata, payloads — carved from a few shared allocations instead of
// three per message. A chunk stays alive while any message carved from it
// does, so chunks are bounded (a message larger than a chunk gets its
// own). Not safe for concurrent use; the zero value is empty.
type arena struct {
	buf  []byte
	strs []string
	ents []entry

	bytesLeft, stringsLeft, entriesLeft int // still to be asked for
}

// forSend sizes a for the copies SendBatch makes of msgs.
func (a *arena) forSend(msgs []*driver.Message) {
	for _, dm := range msgs {
		a.bytesLeft += len(dm.Payload)
		a.stringsLeft += 2 * len(dm.Metadata)
	}
	a.entriesLeft = len(msgs)
}

// bytes returns a copy of p (nil for nil) whose capacity is its length, so
// that appending to it never writes into another message's copy.
func (a *arena) bytes(p []byte) []byte {
	if p == nil {
		return nil
	}
	if cap(a.buf)-len(a.buf) < len(p) {
		a.buf = make([]byte, 0, max(len(p), min(a.bytesLeft, arenaBytes)))
	}
	a.bytesLeft -= len(p)
	start := len(a.buf)
	a.buf = append(a.buf, p...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// flat returns md as key, value, key, value …
func (a *arena) flat(md map[string]string) []string {
	n := 2 * len(md)
	if cap(a.strs)-len(a.strs) < n {
		a.strs = make([]string, 0, max(n, min(a.stringsLeft, arenaStrings)))
	}
	a.stringsLeft -= n
	start := len(a.strs)
	for k, v := range md {
		a.strs = append(a.strs, k, v)
	}
	return a.strs[start:len(a.strs):len(a.strs)]
}

// entry returns a new zero entry.
func (a *arena) entry() *entry {
	if len(a.ents) == 0 {
		a.ents = make([]entry, max(1, min(a.entriesLeft, arenaEntries)))
	}
	a.entriesLeft--
	e := &a.ents[0]
	a.ents = a.ents[1:]
	return e
}
