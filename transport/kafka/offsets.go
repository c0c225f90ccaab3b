package kafka

import "sort"

// offsetTracker follows the records of one partition between fetch and
// commit. Records are added in offset order (offsets increase but may have
// gaps: compaction, transaction markers, filtered records); they are acked
// in any order. The committable offset is one past the last record of the
// contiguous acked prefix: committing it never skips an unacked record.
//
// The zero value is empty with nothing committable. It is not safe for
// concurrent use; partitionState guards it.
type offsetTracker struct {
	entries []trackedOffset
	head    int // entries[:head] are acked and popped

	next  int64 // committable offset (last acked prefix record + 1); valid if hasNext
	epoch int32 // leader epoch of that record
	has   bool
}

type trackedOffset struct {
	offset int64
	epoch  int32
	acked  bool
	nacked bool // given back: not acked in this generation
}

// add registers a fetched record. Offsets must increase; a record at or
// before the last added one is ignored (false).
func (t *offsetTracker) add(offset int64, epoch int32) bool {
	if n := len(t.entries); n > t.head && t.entries[n-1].offset >= offset {
		return false
	}
	if t.has && offset < t.next {
		return false
	}
	if t.head > 0 && t.head >= len(t.entries)/2 {
		// Drop the popped prefix so the slice does not grow forever.
		n := copy(t.entries, t.entries[t.head:])
		clear(t.entries[n:])
		t.entries = t.entries[:n]
		t.head = 0
	}
	t.entries = append(t.entries, trackedOffset{offset: offset, epoch: epoch})
	return true
}

// ack marks offset as processed and advances the committable offset over
// the acked prefix. It reports whether offset was pending.
func (t *offsetTracker) ack(offset int64) bool {
	live := t.entries[t.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].offset >= offset })
	if i == len(live) || live[i].offset != offset || live[i].acked || live[i].nacked {
		return false
	}
	live[i].acked = true
	for t.head < len(t.entries) && t.entries[t.head].acked {
		e := t.entries[t.head]
		t.next, t.epoch, t.has = e.offset+1, e.epoch, true
		t.head++
	}
	return true
}

// nack marks offset as given back: it stays pending (the committable
// offset never passes it) and a later ack of it is ignored. It reports
// whether offset was pending and not given back before.
func (t *offsetTracker) nack(offset int64) bool {
	live := t.entries[t.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].offset >= offset })
	if i == len(live) || live[i].offset != offset || live[i].acked || live[i].nacked {
		return false
	}
	live[i].nacked = true
	return true
}

// firstPending returns the first offset added and not part of the acked
// prefix; ok is false if there is none.
func (t *offsetTracker) firstPending() (offset int64, ok bool) {
	if t.head == len(t.entries) {
		return 0, false
	}
	return t.entries[t.head].offset, true
}

// committable returns the offset to commit (one past the acked prefix) and
// the leader epoch of the record before it; ok is false while nothing was
// acked.
func (t *offsetTracker) committable() (offset int64, epoch int32, ok bool) {
	return t.next, t.epoch, t.has
}

// pending returns how many added records are not yet part of the acked
// prefix.
func (t *offsetTracker) pending() int { return len(t.entries) - t.head }
