//go:build !race

package events_test

import (
	"testing"

	"github.com/tradebus/tradebus/events"
)

// TestCodecAllocations pins the allocation budget of the hot types (the
// race detector adds allocations, hence the build tag): encoding into a
// reused buffer allocates nothing, Marshal only its result, and decoding
// (once exchange and symbol are in the intern table) only a trade's id or
// an order book's one array for both sides.
func TestCodecAllocations(t *testing.T) {
	for _, tc := range []struct {
		e         events.Event
		decode    func([]byte) error
		decAllocs float64
	}{
		{validTrade(), dec[events.Trade](), 1},
		{validTicker(), dec[events.Ticker](), 0},
		{book10(), dec[events.OrderBook](), 1},
	} {
		data, err := events.Marshal(tc.e)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 4096)
		if n := testing.AllocsPerRun(100, func() {
			if _, err := events.AppendMarshal(buf[:0], tc.e); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: AppendMarshal into a large buffer: %v allocs, want 0", tc.e.EventType(), n)
		}
		if n := testing.AllocsPerRun(100, func() {
			var err error
			switch v := tc.e.(type) { // a concrete T is not boxed either
			case events.Trade:
				_, err = events.AppendMarshal(buf[:0], v)
			case events.Ticker:
				_, err = events.AppendMarshal(buf[:0], v)
			case events.OrderBook:
				_, err = events.AppendMarshal(buf[:0], v)
			}
			if err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: AppendMarshal[%T] into a large buffer: %v allocs, want 0", tc.e.EventType(), tc.e, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			if _, err := events.Marshal(tc.e); err != nil {
				t.Fatal(err)
			}
		}); n != 1 {
			t.Errorf("%s: Marshal: %v allocs, want 1", tc.e.EventType(), n)
		}
		if n := testing.AllocsPerRun(100, func() {
			if err := tc.decode(data); err != nil {
				t.Fatal(err)
			}
		}); n != tc.decAllocs {
			t.Errorf("%s: Unmarshal: %v allocs, want %v", tc.e.EventType(), n, tc.decAllocs)
		}
	}
}
