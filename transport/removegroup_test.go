package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
)

func TestRemoveGroup(t *testing.T) {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	if err := transport.RemoveGroup(ctx, tr, "never", "trade.#"); err != nil {
		t.Fatalf("a group that does not exist: %v, want nil", err)
	}
	sub, err := tr.(*transport.Portable).NewSubscriber("mine")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SubscribeInitialize("trade.#"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	if _, err := sub.Subscribe(sctx, "trade.#"); err != nil {
		t.Fatal(err)
	}
	// Still subscribed: retried until ctx ends, then ErrGroupInUse.
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	err = transport.RemoveGroup(short, tr, "mine", "trade.#")
	stop()
	if !errors.Is(err, transport.ErrGroupInUse) {
		t.Fatalf("a subscribed group: %v, want ErrGroupInUse", err)
	}
	cancel()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := transport.RemoveGroup(ctx, tr, "mine", "trade.#"); err != nil {
		t.Fatal(err)
	}
	if _, err := transport.Lag(ctx, tr, "mine", "trade.#"); !errors.Is(err, transport.ErrGroupNotFound) {
		t.Fatalf("after RemoveGroup: %v, want ErrGroupNotFound", err)
	}
}
