package mem_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// TestTakeSkipsHeldKeys: a member takes only the keys no other member
// holds, in order, and what it leaves keeps its order for the holder —
// also across several takes that each skip some messages and take others.
func TestTakeSkipsHeldKeys(t *testing.T) {
	d, err := mem.NewDriver()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { _ = d.Close(ctx) })
	a, err := d.Subscribe(ctx, "g", "k.#")
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Subscribe(ctx, "g", "k.#")
	if err != nil {
		t.Fatal(err)
	}
	send := func(from, n int) {
		t.Helper()
		var msgs []*driver.Message
		for i := from; i < from+n; i++ {
			pk := []string{"x", "y", "z"}[i%3]
			msgs = append(msgs, &driver.Message{UUID: fmt.Sprint(i), Key: "k." + pk, PartitionKey: pk})
		}
		if err := d.Topic().SendBatch(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	uuids := func(dms []*driver.Message) []string {
		var out []string
		for _, dm := range dms {
			out = append(out, dm.UUID)
		}
		return out
	}
	// a takes the first message: it holds key x.
	send(0, 1)
	first, err := a.ReceiveBatch(ctx, 1)
	if err != nil || len(first) != 1 || first[0].UUID != "0" {
		t.Fatalf("a took %v, %v; want [0]", uuids(first), err)
	}
	// 1..17: x at 3, 6, …; b must skip them. With two members a take is
	// at most half of what waits.
	send(1, 17)
	var gotB []string
	for len(gotB) < 11 {
		dms, err := b.ReceiveBatch(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, dm := range dms {
			if dm.PartitionKey == "x" {
				t.Fatalf("b took %s of key x, held by a", dm.UUID)
			}
		}
		gotB = append(gotB, uuids(dms)...)
	}
	want := []string{"1", "2", "4", "5", "7", "8", "10", "11", "13", "14", "16", "17"}
	if !slices.Equal(gotB, want[:len(gotB)]) {
		t.Fatalf("b took %v, want a prefix of %v", gotB, want)
	}
	// a, holding x, gets the x messages in order (and whatever b left).
	var gotA []string
	for len(gotA) < 5+(12-len(gotB)) {
		dms, err := a.ReceiveBatch(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		gotA = append(gotA, uuids(dms)...)
	}
	var xs []string
	for _, u := range gotA {
		if u == "3" || u == "6" || u == "9" || u == "12" || u == "15" {
			xs = append(xs, u)
		}
	}
	if !slices.Equal(xs, []string{"3", "6", "9", "12", "15"}) {
		t.Fatalf("a took %v: key x out of order or missing", gotA)
	}
}
