package projection

import (
	"fmt"
	"testing"
)

func TestRecentIDsWindow(t *testing.T) {
	r := newRecentIDs(3)
	for i := range 5 {
		r.add(fmt.Sprint(i))
	}
	if got := fmt.Sprint(r.list()); got != "[2 3 4]" {
		t.Fatalf("list = %s, want the latest 3 oldest first", got)
	}
	for id, want := range map[string]bool{"0": false, "1": false, "2": true, "4": true} {
		if r.has(id) != want {
			t.Errorf("has(%s) = %v", id, !want)
		}
	}
	off := newRecentIDs(-1)
	off.add("x")
	if off.has("x") || len(off.list()) != 0 {
		t.Error("a negative window remembers nothing")
	}
}
