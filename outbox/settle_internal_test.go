package outbox

import (
	"errors"
	"slices"
	"testing"

	"github.com/tradebus/tradebus/transport"
)

func TestSettleKeepsKeyOrder(t *testing.T) {
	batch := []row{
		{seq: 1, partition: "A"}, {seq: 2, partition: "B"}, {seq: 3, partition: "A"},
		{seq: 4, partition: "A"}, {seq: 5, partition: "C"}, {seq: 6, partition: "C"},
	}
	transient := errors.New("connection reset")
	tooLarge := &transport.TooLargeError{What: "message", Size: 2, Limit: 1}
	done, bury, err := settle(batch, map[int]error{2: transient, 4: tooLarge})
	// A: 1 stored, 3 failed, so 4 (stored) must be sent again after 3.
	// C: 5 can never be sent (buried), 6 stored.
	if want := []int64{1, 2, 6}; !slices.Equal(done, want) {
		t.Fatalf("done %v, want %v", done, want)
	}
	if len(bury) != 1 || bury[0].index != 4 {
		t.Fatalf("bury %+v, want index 4", bury)
	}
	if !errors.Is(err, transient) {
		t.Fatalf("err %v, want the transient failure", err)
	}
	done, bury, err = settle(batch, map[int]error{0: errNotSent, 1: tooLarge, 2: errNotSent, 3: errNotSent, 4: errNotSent, 5: errNotSent})
	if len(done) != 0 || len(bury) != 1 || bury[0].index != 1 || err != nil {
		t.Fatalf("refused batch: done %v bury %+v err %v", done, bury, err)
	}
	if done, bury, err = settle(batch, nil); len(done) != 6 || len(bury) != 0 || err != nil {
		t.Fatalf("all stored: %v %v %v", done, bury, err)
	}
}
