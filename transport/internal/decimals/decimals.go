// Package decimals formats a batch of numbers (stream offsets, sequence
// numbers) as decimal strings with one allocation for the whole batch
// instead of one per number: the strings are substrings of one string.
// Drivers use it for driver.Position.Offset on every received message.
package decimals

import "strconv"

// Carve calls set(i, the decimal string of at(i)) for i in [0, n). The
// strings share one backing string, kept alive while any of them is.
func Carve(n int, at func(i int) uint64, set func(i int, s string)) {
	if n <= 0 {
		return
	}
	buf := make([]byte, 0, n*8)
	ends := make([]int32, n)
	for i := range n {
		buf = strconv.AppendUint(buf, at(i), 10)
		ends[i] = int32(len(buf))
	}
	all := string(buf)
	start := int32(0)
	for i, end := range ends {
		set(i, all[start:end])
		start = end
	}
}
