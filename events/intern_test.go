package events

import (
	"errors"
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

// TestInternSegment: the table remembers whether a string is a valid
// routing-key segment, and a decoded event with an invalid exchange or
// symbol is rejected by Unmarshal however often it comes (the second time
// from the table).
func TestInternSegment(t *testing.T) {
	for _, tc := range []struct {
		in    string
		valid bool
	}{
		{"", false}, {"BTCUSDT", true}, {"BTC.USDT", false}, {"BTC USDT", false}, {"a#", false},
		{strings.Repeat("x", internMaxLen+1), true}, {strings.Repeat("x", internMaxLen) + "*", false},
	} {
		for range 2 {
			if s, ok := internSegment([]byte(tc.in)); s != tc.in || ok != tc.valid || ok != (ValidateSegment(tc.in) == nil) {
				t.Errorf("internSegment(%q) = %q, %v", tc.in, s, ok)
			}
		}
	}
	for range 2 {
		data := []byte(`{"exchange":"binance","symbol":"BTC.USDT","price":"1","amount":"1","side":"buy","datetime":"2026-03-14T15:09:26Z"}`)
		var ve *ValidationError
		if _, err := Unmarshal[Trade](data); !errors.As(err, &ve) || ve.Field != "symbol" {
			t.Fatalf("Unmarshal of a trade with symbol BTC.USDT: %v", err)
		}
		data = []byte(`{"exchange":"bin ance","symbol":"BTCUSDT","bid":"1","datetime":"2026-03-14T15:09:26Z"}`)
		if _, err := Unmarshal[Ticker](data); !errors.As(err, &ve) || ve.Field != "exchange" {
			t.Fatalf("Unmarshal of a ticker with exchange \"bin ance\": %v", err)
		}
		data = []byte(`{"exchange":"binance","symbol":"BTC>","kind":"SNAPSHOT","bids":[],"asks":[],"datetime":"2026-03-14T15:09:26Z"}`)
		if _, err := Unmarshal[OrderBook](data); !errors.As(err, &ve) || ve.Field != "symbol" {
			t.Fatalf("Unmarshal of a book with symbol BTC>: %v", err)
		}
	}
}
