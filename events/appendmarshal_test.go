package events_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tradebus/tradebus/events"
)

func TestAppendMarshal(t *testing.T) {
	buf := []byte("prefix:")
	for _, e := range allValid() {
		want, err := events.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.AppendMarshal(buf[:7], e)
		if err != nil {
			t.Fatalf("%s: %v", e.EventType(), err)
		}
		if string(got[:7]) != "prefix:" || !bytes.Equal(got[7:], want) {
			t.Fatalf("%s: AppendMarshal = %q, want prefix:%s", e.EventType(), got, want)
		}
		buf = got // reuse the grown buffer
	}

	// An invalid event appends nothing and returns Marshal's error.
	bad := validTrade()
	bad.Price = d("-1")
	got, err := events.AppendMarshal([]byte("keep"), bad)
	var ve *events.ValidationError
	if string(got) != "keep" || !errors.As(err, &ve) || ve.Field != "price" {
		t.Fatalf("invalid event: %q, %v", got, err)
	}
	if got, err := events.AppendMarshal[events.Event]([]byte("keep"), nil); string(got) != "keep" || !errors.Is(err, events.ErrValidation) {
		t.Fatalf("nil event: %q, %v", got, err)
	}

	// A value the hand-written encoder declines (a string to escape)
	// is appended through encoding/json.
	esc := validTrade()
	esc.TradeID = "a<b>&c"
	want, err := events.Marshal(esc)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := events.AppendMarshal([]byte("p"), esc); err != nil || string(got) != "p"+string(want) {
		t.Fatalf("escaped: %q, %v; want p%s", got, err, want)
	}
}

// TestUnmarshalDoesNotAliasInput: the decoded strings and order-book
// levels stay intact when the input buffer is reused.
func TestUnmarshalDoesNotAliasInput(t *testing.T) {
	for _, e := range []events.Event{validTrade(), validTicker(), validBook(), book10()} {
		data, err := events.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := events.Decode(e.EventType(), data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range data {
			data[i] = 'X'
		}
		if !sameEvent(e, back) {
			t.Fatalf("%s changed when the input was overwritten:\n%+v\n%+v", e.EventType(), e, back)
		}
	}
	// Appending to one side of a decoded book does not touch the other.
	data, _ := events.Marshal(validBook())
	ob, err := events.Unmarshal[events.OrderBook](data)
	if err != nil {
		t.Fatal(err)
	}
	asks := append([]events.PriceLevel(nil), ob.Asks...)
	_ = append(ob.Bids, events.PriceLevel{Price: d("1"), Amount: d("1")})
	if !sameEvent(asks, ob.Asks) {
		t.Fatalf("appending to bids changed asks: %+v", ob.Asks)
	}
}
