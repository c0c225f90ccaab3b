package events_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

// TestAppendMarshalKeepsSpareCapacity: on success AppendMarshal writes
// only the bytes it appends, like the standard library's Append
// functions — a caller's data in dst's spare capacity (dst a prefix of a
// larger buffer) is untouched — for every fast-path type, with times of
// every nanosecond length.
func TestAppendMarshalKeepsSpareCapacity(t *testing.T) {
	check := func(t *testing.T, e events.Event, prefix int) {
		t.Helper()
		buf := bytes.Repeat([]byte{0xA5}, 4096)
		copy(buf, "prefix")
		out, err := events.AppendMarshal(buf[:prefix], e)
		if err != nil {
			t.Fatal(err)
		}
		if &out[0] != &buf[0] {
			t.Fatal("AppendMarshal reallocated a buffer of 4096 bytes")
		}
		for i, b := range buf[len(out):] {
			if b != 0xA5 {
				t.Fatalf("%T: byte %d past the %d returned was written (%#x)", e, i, len(out), b)
			}
		}
		want, _ := events.Marshal(e)
		if !bytes.Equal(out[prefix:], want) {
			t.Fatalf("%T: appended %q, Marshal gives %q", e, out[prefix:], want)
		}
	}
	for _, ns := range []int{0, 1, 120, 123456, 100000000, 123456789, 999999999} {
		tr, tk, bk := validTrade(), validTicker(), validBook()
		tr.Time = tr.Time.Truncate(time.Second).Add(time.Duration(ns))
		tk.Time = tk.Time.Truncate(time.Second).Add(time.Duration(ns))
		bk.Time = bk.Time.Truncate(time.Second).Add(time.Duration(ns))
		for _, prefix := range []int{0, 6} {
			check(t, &tr, prefix)
			check(t, tr, prefix)
			check(t, &tk, prefix)
			check(t, &bk, prefix)
		}
	}
}
