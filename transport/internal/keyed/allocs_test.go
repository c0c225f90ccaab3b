//go:build !race

package keyed

import (
	"context"
	"sync/atomic"
	"testing"
)

// TestSubmitReusesLanes: once warm, submitting items of keys that drain
// in between allocates (almost) nothing: emptied lanes and their item
// slices are reused, and an item is no closure. 64 items over 8 keys
// per round; the round's allocation is the pool's idle channel. (The
// race detector adds allocations, hence the build tag.)
func TestSubmitReusesLanes(t *testing.T) {
	var sum atomic.Int64
	p := New(16, func(i int) { sum.Add(int64(i)) })
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	ctx := context.Background()
	round := func() {
		for i := range 64 {
			if err := p.Submit(ctx, keys[i%len(keys)], i); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	round()
	if n := testing.AllocsPerRun(50, round); n > 4 {
		t.Errorf("%v allocations per round of 64 items, want at most 4", n)
	}
}
