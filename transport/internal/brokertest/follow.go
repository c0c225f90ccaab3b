package brokertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
)

// FollowWaitsForStream checks that transport.Follow of kind+".#" on tr,
// started before kind has a stream (topic, stream key), waits for it:
// once waiting reports the follower is looking for the stream (polled),
// a message published to kind+".x.K" is passed, and cancelling Follow's
// ctx ends it with context.Canceled. what names the broker's stream
// ("topic", "stream") in failures.
func FollowWaitsForStream(t testing.TB, tr transport.Transport, kind, what string, waiting func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan *message.Message, 1)
	done := make(chan error, 1)
	go func() {
		done <- transport.Follow(ctx, tr, kind+".#", transport.FromBeginning(), func(m *message.Message) bool {
			got <- m
			return true
		})
	}()
	deadline := time.Now().Add(waitLimit)
	for !waiting() {
		select {
		case err := <-done:
			t.Fatalf("Follow returned %v before the %s existed", err, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the follower to wait for the %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	m := message.NewMessage("follow-first", []byte("first"))
	m.Metadata.Set("partitionkey", "K")
	t0 := time.Now()
	if err := tr.Publisher().Publish(kind+".x.K", m); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		t.Logf("passed %s after publish started", time.Since(t0))
		if g.UUID != m.UUID {
			t.Fatalf("Follow passed %s, want %s", g.UUID, m.UUID)
		}
	case err := <-done:
		t.Fatalf("Follow returned %v before passing the message", err)
	case <-time.After(waitLimit):
		t.Fatalf("Follow did not pass the message published after it started")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		t.Logf("Follow returned %s after cancel", time.Since(start))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Follow did not return after cancel")
	}
}

// waitLimit bounds each wait of the checks here (a loaded CI machine).
const waitLimit = time.Minute
