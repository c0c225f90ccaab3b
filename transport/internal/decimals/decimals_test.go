package decimals

import (
	"strconv"
	"testing"
)

func TestCarve(t *testing.T) {
	nums := []uint64{0, 7, 10, 123456789, 1<<64 - 1, 42}
	got := make([]string, len(nums))
	Carve(len(nums), func(i int) uint64 { return nums[i] }, func(i int, s string) { got[i] = s })
	for i, n := range nums {
		if want := strconv.FormatUint(n, 10); got[i] != want {
			t.Errorf("%d: %q, want %q", i, got[i], want)
		}
	}
	Carve(0, nil, nil) // nothing to do, nothing called
}
