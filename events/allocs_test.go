//go:build !race

package events_test

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/tradebus/tradebus/events"
)

// TestCodecAllocations pins the allocation budget of the hot types (the
// race detector adds allocations, hence the build tag): encoding into a
// reused buffer allocates nothing, Marshal only its result, and decoding
// (once exchange and symbol are in the intern table) only a trade's id or
// an order book's one array for both sides (of exactly its levels, see
// TestDecodedBookArray).
func TestCodecAllocations(t *testing.T) {
	for _, tc := range []struct {
		e         events.Event
		decode    func([]byte) error
		decAllocs float64
	}{
		{validTrade(), dec[events.Trade](), 1},
		{validTicker(), dec[events.Ticker](), 0},
		{validBook(), dec[events.OrderBook](), 1},
		{validDelta(), dec[events.OrderBook](), 1},
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

// TestDecodedBookArray: a decoded order book's bids and asks are the two
// halves of one array that holds exactly their levels, so that decoding
// allocates no more than the levels take; a document with one side only
// (not as the encoder writes it) decodes all the same.
func TestDecodedBookArray(t *testing.T) {
	for _, e := range []events.OrderBook{validBook(), validDelta(), book10()} {
		data, err := events.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		ob, err := events.Unmarshal[events.OrderBook](data)
		if err != nil {
			t.Fatal(err)
		}
		nb, na := len(ob.Bids), len(ob.Asks)
		afterBids := unsafe.Add(unsafe.Pointer(unsafe.SliceData(ob.Bids)), uintptr(nb)*unsafe.Sizeof(events.PriceLevel{}))
		if cap(ob.Bids) != nb || cap(ob.Asks) != na || afterBids != unsafe.Pointer(unsafe.SliceData(ob.Asks)) {
			t.Fatalf("bids (len %d cap %d) and asks (len %d cap %d) are not one array of their levels", nb, cap(ob.Bids), na, cap(ob.Asks))
		}
		if n := testing.AllocsPerRun(100, func() {
			if _, err := events.Unmarshal[events.OrderBook](data); err != nil {
				t.Fatal(err)
			}
		}); n != 1 {
			t.Errorf("%d levels: %v allocs, want 1", nb+na, n)
		}
		// The bytes: for 6 levels (a size class of its own) the array is
		// 384 bytes; one level more would be 448.
		if nb+na == 6 {
			const runs = 1000
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				if _, err := events.Unmarshal[events.OrderBook](data); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / runs; per >= 448 {
				t.Errorf("6 levels: %d bytes per decode, want 384", per)
			}
		}
	}
	oneSide := []byte(`{"exchange":"binance","symbol":"BTCUSDT","kind":"DELTA","bids":[["2","1"],["1","0"]],"datetime":"2026-03-14T15:09:26Z"}`)
	ob, err := events.Unmarshal[events.OrderBook](oneSide)
	if err != nil || len(ob.Bids) != 2 || ob.Asks != nil || !ob.Bids[1].Price.Equal(d("1")) {
		t.Fatalf("one side: %+v, %v", ob, err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := events.Unmarshal[events.OrderBook](oneSide); err != nil {
			t.Fatal(err)
		}
	}); n > 2 {
		t.Errorf("one side: %v allocs, want at most 2", n)
	}
}
