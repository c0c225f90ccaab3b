package main

import (
	"testing"

	"github.com/tradebus/tradebus/events"
)

// TestCodecCases: every event of the codec suite is valid and decodes as
// the type it is measured with.
func TestCodecCases(t *testing.T) {
	names := map[string]bool{}
	for _, c := range codecCases() {
		names[c.name] = true
		data, err := events.Marshal(c.event)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := c.decode(data); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		back, err := events.Decode(c.event.EventType(), data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if again, err := events.Marshal(back); err != nil || string(again) != string(data) {
			t.Fatalf("%s: round trip %s, want %s (%v)", c.name, again, data, err)
		}
	}
	for _, want := range []string{"Trade", "Ticker", "OrderBook", "OrderBook10"} {
		if !names[want] {
			t.Errorf("no %s in the codec suite", want)
		}
	}
}
