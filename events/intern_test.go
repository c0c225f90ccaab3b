package events

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func TestIntern(t *testing.T) {
	if got := intern(nil); got != "" {
		t.Fatalf("intern(nil) = %q", got)
	}
	b := []byte("BTCUSDT")
	s1 := intern(b)
	b[0] = 'X' // the interned string is a copy
	if s1 != "BTCUSDT" {
		t.Fatalf("interned string changed with its input: %q", s1)
	}
	// A second lookup returns the stored string itself.
	if s2 := intern([]byte("BTCUSDT")); s2 != "BTCUSDT" || unsafe.StringData(s2) != unsafe.StringData(s1) {
		t.Fatalf("intern = %q, not the interned string", s2)
	}
	long := strings.Repeat("x", internMaxLen+1)
	if got := intern([]byte(long)); got != long {
		t.Fatalf("long string: %q", got)
	}
}

// TestInternConcurrent: goroutines interning colliding strings always get
// their own text back (run with -race).
func TestInternConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				want := fmt.Sprintf("SYM%d", (i*7+g)%(3*internSize)) // more strings than slots
				if got := intern([]byte(want)); got != want {
					errs <- fmt.Sprintf("intern(%q) = %q", want, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
