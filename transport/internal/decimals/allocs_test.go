//go:build !race

package decimals

import "testing"

// TestCarveAllocs: a batch costs a fixed few allocations, not one per
// number. (The race detector adds allocations, hence the build tag.)
func TestCarveAllocs(t *testing.T) {
	nums := make([]uint64, 256)
	for i := range nums {
		nums[i] = uint64(1_000_000 + i)
	}
	out := make([]string, len(nums))
	allocs := testing.AllocsPerRun(100, func() {
		Carve(len(nums), func(i int) uint64 { return nums[i] }, func(i int, s string) { out[i] = s })
	})
	if allocs > 3 {
		t.Errorf("%v allocations for 256 numbers, want at most 3", allocs)
	}
}
