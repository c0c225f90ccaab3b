package kafka

import (
	"testing"
)

func TestOffsetTracker(t *testing.T) {
	var tr offsetTracker
	if _, _, ok := tr.committable(); ok {
		t.Fatal("empty tracker has a committable offset")
	}
	for _, o := range []int64{10, 11, 13, 14, 20} { // gaps: compaction, markers
		if !tr.add(o, 1) {
			t.Fatalf("add(%d) = false", o)
		}
	}
	if tr.add(14, 1) || tr.add(3, 1) {
		t.Error("add of an offset not after the last one was accepted")
	}
	steps := []struct {
		ack     int64
		want    int64 // committable offset, -1 none
		pending int
	}{
		{13, -1, 5}, // not contiguous: 10 and 11 pending
		{11, -1, 5},
		{10, 14, 2}, // 10, 11, 13 acked: commit 14
		{10, 14, 2}, // double ack ignored
		{99, 14, 2}, // unknown offset ignored
		{20, 14, 2},
		{14, 21, 0},
	}
	for _, s := range steps {
		tr.ack(s.ack)
		got, _, ok := tr.committable()
		if !ok {
			got = -1
		}
		if got != s.want || tr.pending() != s.pending {
			t.Errorf("after ack(%d): committable %d pending %d, want %d and %d", s.ack, got, tr.pending(), s.want, s.pending)
		}
	}
	if tr.add(20, 1) {
		t.Error("add of an offset before the committable one was accepted")
	}
	if !tr.add(25, 2) {
		t.Error("add(25) after the prefix = false")
	}
	tr.ack(25)
	if off, epoch, _ := tr.committable(); off != 26 || epoch != 2 {
		t.Errorf("committable %d epoch %d, want 26 and 2", off, epoch)
	}
}

// FuzzOffsetTracker acks a run of offsets in a fuzzed order and checks the
// committable offset against a model after every ack.
func FuzzOffsetTracker(f *testing.F) {
	f.Add([]byte{3, 1, 2, 0, 4})
	f.Add([]byte{0, 0, 9, 200, 7, 7, 1})
	f.Fuzz(func(t *testing.T, order []byte) {
		const n = 64
		var tr offsetTracker
		for i := range n {
			tr.add(int64(i*2), 0) // gaps everywhere
		}
		acked := make([]bool, n)
		for _, b := range order {
			i := int(b) % n
			tr.ack(int64(i * 2))
			acked[i] = true
			prefix := 0
			for prefix < n && acked[prefix] {
				prefix++
			}
			got, _, ok := tr.committable()
			if prefix == 0 {
				if ok {
					t.Fatalf("committable %d with nothing contiguous acked", got)
				}
				continue
			}
			if want := int64((prefix-1)*2 + 1); !ok || got != want {
				t.Fatalf("committable %d (%v), want %d", got, ok, want)
			}
			if tr.pending() != n-prefix {
				t.Fatalf("pending %d, want %d", tr.pending(), n-prefix)
			}
		}
	})
}
