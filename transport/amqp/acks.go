package amqp

import (
	"slices"
)

// ledger tracks the delivery tags of one channel that the core holds or
// has settled, and turns settlements into as few basic.ack and basic.nack
// frames as it can. Every frame costs RabbitMQ a command in the quorum
// queue's log, whatever the number of deliveries it settles: one ack per
// delivery takes about twice the broker CPU per message of one multiple
// ack per hundred.
//
// Acks are held back, not sent, while the core still holds deliveries of
// the channel (each of them will be settled, and that settlement sends
// them), until hold acks are waiting: then the oldest run goes out as one
// multiple ack, and if hold acks still wait behind a delivery the core
// holds (a slow handler, a redelivery loop), each of them goes out alone,
// so that the broker's prefetch window never stays filled by deliveries
// already handled. Once the core holds none, everything acked goes out at
// once, in one frame when it is a run of the oldest tags. Nacks go out at
// once: one multiple nack for a run of the oldest tags (after the acks held
// back before them), singles otherwise.
//
// A ledger is not safe for concurrent use.
type ledger struct {
	// out holds the tags not yet settled with the broker from head on,
	// ascending (the broker delivers them in order); settled entries
	// before the last unsettled one stay as tombstones until compacted.
	out     []entry
	head    int
	pending int // entries in stateOut: the core holds them
	held    int // entries in stateAcked
	hold    int // how many acks may wait (≥ 1)
	frames  []settleFrame
}

type entryState uint8

const (
	stateOut    entryState = iota // handed to the core, not settled
	stateAcked                    // acked by the core, ack not sent yet
	stateNacked                   // nacked by the core, being planned
	stateDone                     // settled with the broker (tombstone)
)

type entry struct {
	tag   uint64
	state entryState
}

// settleFrame is one basic.ack or basic.nack (with requeue) to send.
type settleFrame struct {
	tag      uint64
	multiple bool
	nack     bool
}

func newLedger(hold int) *ledger {
	return &ledger{hold: max(hold, 1)}
}

// add records tag as handed to the core; tags must come in ascending
// order.
func (l *ledger) add(tag uint64) {
	l.out = append(l.out, entry{tag: tag})
	l.pending++
}

// settle records the core's acks (nack false) or nacks of tags, sorted
// ascending, and returns the frames to send now, in order (valid until the
// next call). Tags it does not hold (already settled, or of another
// channel) are ignored.
func (l *ledger) settle(tags []uint64, nack bool) []settleFrame {
	l.frames = l.frames[:0]
	live := l.out[l.head:]
	marked := 0
	i := 0
	for _, t := range tags {
		j, found := slices.BinarySearchFunc(live[i:], t, func(e entry, t uint64) int {
			switch {
			case e.tag < t:
				return -1
			case e.tag > t:
				return 1
			}
			return 0
		})
		i += j
		if !found || live[i].state != stateOut {
			continue
		}
		if nack {
			live[i].state = stateNacked
		} else {
			live[i].state = stateAcked
			l.held++
		}
		l.pending--
		marked++
	}
	if marked == 0 {
		return nil
	}
	if nack {
		l.planNacks()
	}
	if l.held > 0 && (l.pending == 0 || l.held >= l.hold) {
		l.planAcks(false)
	}
	l.compact()
	return l.frames
}

// flush returns the frames that send every ack held back (valid until the
// next call): before the channel closes, so that the broker does not
// redeliver what the core acked.
func (l *ledger) flush() []settleFrame {
	l.frames = l.frames[:0]
	if l.held > 0 {
		l.planAcks(true)
	}
	l.compact()
	return l.frames
}

// planNacks plans the nacked entries: from the oldest unsettled tag on,
// each run of acked or of nacked tags takes one frame (the acks held back
// there go out with them: nacks come when the core stops), and the nacked
// tags behind a tag the core holds take one each.
func (l *ledger) planNacks() {
	live := l.out[l.head:]
	i := 0
	for i < len(live) && live[i].state != stateOut {
		st := live[i].state
		if st == stateDone {
			i++
			continue
		}
		n := 0
		var last uint64
		for ; i < len(live) && (live[i].state == st || live[i].state == stateDone); i++ {
			if live[i].state == st {
				live[i].state = stateDone
				last = live[i].tag
				n++
			}
		}
		l.frames = append(l.frames, settleFrame{tag: last, multiple: n > 1, nack: st == stateNacked})
		if st == stateAcked {
			l.held -= n
		}
	}
	for ; i < len(live); i++ {
		if live[i].state == stateNacked {
			live[i].state = stateDone
			l.frames = append(l.frames, settleFrame{tag: live[i].tag, nack: true})
		}
	}
}

// planAcks sends the run of the oldest acked tags as one multiple ack,
// and, if all is true or hold acks or more still wait behind a tag the
// core holds, every other acked tag alone.
func (l *ledger) planAcks(all bool) {
	live := l.out[l.head:]
	run := 0
	var last uint64
	i := 0
	for ; i < len(live) && (live[i].state == stateAcked || live[i].state == stateDone); i++ {
		if live[i].state == stateAcked {
			live[i].state = stateDone
			last = live[i].tag
			run++
		}
	}
	if run > 0 {
		l.frames = append(l.frames, settleFrame{tag: last, multiple: run > 1})
		l.held -= run
	}
	if l.held == 0 || !all && l.held < l.hold {
		return
	}
	for ; i < len(live); i++ {
		if live[i].state == stateAcked {
			live[i].state = stateDone
			l.frames = append(l.frames, settleFrame{tag: live[i].tag})
		}
	}
	l.held = 0
}

// compact drops the settled entries at the head, and moves the rest to
// the front of the array once the dropped part is the larger.
func (l *ledger) compact() {
	for l.head < len(l.out) && l.out[l.head].state == stateDone {
		l.head++
	}
	if l.head == len(l.out) {
		l.out, l.head = l.out[:0], 0
		return
	}
	if l.head > len(l.out)/2 {
		n := copy(l.out, l.out[l.head:])
		l.out, l.head = l.out[:n], 0
	}
}

// reset forgets every tag (the channel died: the broker redelivers).
func (l *ledger) reset() {
	l.out, l.head, l.pending, l.held = nil, 0, 0, 0
}
