package amqp

import (
	"slices"
	"testing"
)

func TestLedger(t *testing.T) {
	type step struct {
		tags []uint64 // nil: flush
		nack bool
		want []settleFrame
	}
	ack := func(tag uint64, multiple bool) settleFrame { return settleFrame{tag: tag, multiple: multiple} }
	nack := func(tag uint64, multiple bool) settleFrame {
		return settleFrame{tag: tag, multiple: multiple, nack: true}
	}
	cases := []struct {
		name  string
		hold  int
		out   []uint64
		steps []step
	}{
		{"all at once", 8, []uint64{1, 2, 3}, []step{
			{[]uint64{1, 2, 3}, false, []settleFrame{ack(3, true)}},
		}},
		{"held while the core holds one, then one frame", 8, []uint64{1, 2, 3, 4}, []step{
			{[]uint64{1}, false, nil},
			{[]uint64{3, 4}, false, nil},
			{[]uint64{2}, false, []settleFrame{ack(4, true)}},
		}},
		{"the last one alone", 8, []uint64{7}, []step{
			{[]uint64{7}, false, []settleFrame{ack(7, false)}},
		}},
		{"hold reached: the oldest run", 3, []uint64{1, 2, 3, 4, 5}, []step{
			{[]uint64{1, 2}, false, nil},
			{[]uint64{3}, false, []settleFrame{ack(3, true)}},
			{[]uint64{5}, false, nil},
			{[]uint64{4}, false, []settleFrame{ack(5, true)}},
		}},
		{"hold reached behind a slow one: singles", 2, []uint64{1, 2, 3, 4, 5}, []step{
			{[]uint64{2}, false, nil},
			{[]uint64{4}, false, []settleFrame{ack(2, false), ack(4, false)}},
			{[]uint64{3}, false, nil},
			{[]uint64{1}, false, []settleFrame{ack(3, true)}},
			{[]uint64{5}, false, []settleFrame{ack(5, false)}},
		}},
		{"hold 1 sends every ack", 1, []uint64{1, 2, 3}, []step{
			{[]uint64{2}, false, []settleFrame{ack(2, false)}},
			{[]uint64{1}, false, []settleFrame{ack(1, false)}},
			{[]uint64{3}, false, []settleFrame{ack(3, false)}},
		}},
		{"nacks: oldest run multiple, others single", 8, []uint64{1, 2, 3, 4, 5}, []step{
			{[]uint64{1, 2, 4}, true, []settleFrame{nack(2, true), nack(4, false)}},
			{[]uint64{3, 5}, false, []settleFrame{ack(5, true)}},
		}},
		{"a nack never covers a held ack", 8, []uint64{1, 2, 3, 4, 5, 6}, []step{
			{[]uint64{1, 3}, false, nil},
			{[]uint64{2, 4}, true, []settleFrame{ack(1, false), nack(2, false), ack(3, false), nack(4, false)}},
			{[]uint64{6}, false, nil},
			{[]uint64{5}, false, []settleFrame{ack(6, true)}},
		}},
		{"stopping: held acks, then the nacks, in two frames", 8, []uint64{1, 2, 3, 4, 5, 6}, []step{
			{[]uint64{1, 2, 3}, false, nil},
			{[]uint64{4, 5, 6}, true, []settleFrame{ack(3, true), nack(6, true)}},
		}},
		{"the last nack releases the held acks", 8, []uint64{1, 2, 3}, []step{
			{[]uint64{2, 3}, false, nil},
			{[]uint64{1}, true, []settleFrame{nack(1, false), ack(3, true)}},
		}},
		{"unknown and repeated tags ignored", 8, []uint64{3, 4}, []step{
			{[]uint64{1, 2, 3, 7}, false, nil},
			{[]uint64{3}, true, nil},
			{[]uint64{4}, false, []settleFrame{ack(4, true)}},
			{[]uint64{4}, false, nil},
		}},
		{"flush before closing", 8, []uint64{1, 2, 3, 4, 5}, []step{
			{[]uint64{1, 2, 4}, false, nil},
			{nil, false, []settleFrame{ack(2, true), ack(4, false)}}, // flush
			{[]uint64{3, 5}, true, []settleFrame{nack(5, true)}},
		}},
		{"nothing outstanding", 8, nil, []step{
			{[]uint64{1}, false, nil},
		}},
	}
	for _, c := range cases {
		l := newLedger(c.hold)
		for _, tag := range c.out {
			l.add(tag)
		}
		for i, s := range c.steps {
			var got []settleFrame
			if s.tags == nil {
				got = slices.Clone(l.flush())
			} else {
				got = slices.Clone(l.settle(slices.Clone(s.tags), s.nack))
			}
			if !slices.Equal(got, s.want) {
				t.Errorf("%s: step %d: settle(%v, nack %v) = %v, want %v", c.name, i, s.tags, s.nack, got, s.want)
			}
		}
		if l.pending != 0 || l.held != 0 || len(l.out) != l.head {
			t.Errorf("%s: left pending %d held %d out %v", c.name, l.pending, l.held, l.out[l.head:])
		}
	}
}

// TestLedgerSettlesEverything hands out tags in batches and settles them
// in a scrambled order, interleaved with new batches, checking after every
// step that each frame covers only tags the core settled, that no tag is
// settled twice, and at the end that every tag was settled with the
// broker as the core asked.
func TestLedgerSettlesEverything(t *testing.T) {
	for _, hold := range []int{1, 4, 64} {
		l := newLedger(hold)
		want := map[uint64]bool{} // tag → nack, as the core settled it
		broker := map[uint64]bool{}
		var next uint64 = 1
		var out []uint64
		seed := uint64(hold)
		rnd := func(n int) int {
			seed = seed*6364136223846793005 + 1442695040888963407
			return int(seed>>33) % n
		}
		frames := 0
		// The broker has delivered more than the ledger was given: those
		// wait in the client's buffer (or in a batch not yet added). A
		// multiple frame settles every unsettled delivery up to its tag:
		// none of them may be covered.
		var delivered uint64
		apply := func(fs []settleFrame) {
			for _, f := range fs {
				frames++
				covered := []uint64{f.tag}
				if f.multiple {
					covered = nil
					for tag := uint64(1); tag <= f.tag; tag++ {
						if _, done := broker[tag]; !done && tag <= delivered {
							covered = append(covered, tag)
						}
					}
				}
				for _, tag := range covered {
					nack, settled := want[tag]
					if !settled || nack != f.nack {
						t.Fatalf("hold %d: frame %+v settles tag %d, which the core settled: %v (nack %v)", hold, f, tag, settled, nack)
					}
					if _, dup := broker[tag]; dup {
						t.Fatalf("hold %d: tag %d settled twice", hold, tag)
					}
					broker[tag] = f.nack
				}
			}
		}
		for round := 0; round < 200; round++ {
			for range rnd(20) {
				l.add(next)
				out = append(out, next)
				next++
			}
			delivered = max(delivered, next-1+uint64(rnd(64)))
			k := rnd(len(out) + 1)
			var tags []uint64
			for range k {
				i := rnd(len(out))
				tags = append(tags, out[i])
				out = slices.Delete(out, i, i+1)
			}
			nack := rnd(10) == 0
			for _, tag := range tags {
				want[tag] = nack
			}
			slices.Sort(tags)
			apply(l.settle(tags, nack))
		}
		tags := slices.Clone(out)
		slices.Sort(tags)
		for _, tag := range tags {
			want[tag] = false
		}
		apply(l.settle(tags, false))
		if len(broker) != len(want) {
			t.Errorf("hold %d: %d tags settled with the broker, want %d", hold, len(broker), len(want))
		}
		t.Logf("hold %d: %d tags, %d frames", hold, len(want), frames)
	}
}
