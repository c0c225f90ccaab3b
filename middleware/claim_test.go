package middleware

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

// limitedMem is a mem transport that refuses messages over 8 KiB or with
// over 4 KiB of metadata, as a broker does.
func limitedMem(t *testing.T) *transport.Portable {
	t.Helper()
	tr, err := mem.New(mem.WithMessageLimits(8<<10, 4<<10), mem.WithRedeliveryBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return tr
}

// bigMsg fits the limits on its own; its poison copy (reason and the other
// poison metadata added) does not.
func bigMsg(id string) *message.Message {
	m := message.NewMessage(id, []byte(strings.Repeat("x", 4<<10)))
	m.Metadata.Set(events.MetaID, id)
	m.Metadata.Set(events.MetaType, "tradebus.trade.v1")
	m.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	m.Metadata.Set("big", strings.Repeat("h", 3500))
	return m
}

// runTooLarge publishes a message whose dead letter is too large, then an
// ordinary one of the same key, through a handler that rejects the first:
// the key goes on (the second is handled) and one dead letter is
// published. It returns the dead letter.
func runTooLarge(t *testing.T, tr *transport.Portable, opts ...Option) *message.Message {
	t.Helper()
	dlq, _ := tr.Subscriber("dlq")
	dctx, dcancel := context.WithCancel(context.Background())
	t.Cleanup(dcancel)
	dead, err := dlq.Subscribe(dctx, "deadletter.#")
	if err != nil {
		t.Fatal(err)
	}
	stack, err := Default(tr.Publisher(), append([]Option{WithConsumerGroup("risk"), WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := tr.NewSubscriber("risk")
	var mu sync.Mutex
	var handled []string
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := sub.Consume(ctx, "trade.#", stack.Middleware(func(msg *message.Message) ([]*message.Message, error) {
		if msg.UUID == "big" {
			return nil, Permanent(errors.New(strings.Repeat("a very long reason ", 200)))
		}
		mu.Lock()
		handled = append(handled, msg.UUID)
		mu.Unlock()
		return nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = wait() })
	small := message.NewMessage("small", []byte("{}"))
	small.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", bigMsg("big"), small); err != nil {
		t.Fatal(err)
	}
	var dl *message.Message
	select {
	case dl = <-dead:
		dl.Ack()
	case <-time.After(30 * time.Second):
		t.Fatal("no dead letter")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(handled)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key stalled: the message after the too-large one was not handled")
		}
		time.Sleep(time.Millisecond)
	}
	if got := stack.Poison.Published(); got != 1 {
		t.Errorf("Published %d, want 1", got)
	}
	if r := dl.Metadata.Get(MetaPoisonReason); len(r) > MaxPoisonReasonBytes || !strings.Contains(r, "bytes cut") {
		t.Errorf("reason of %d bytes, want at most %d and marked as cut", len(r), MaxPoisonReasonBytes)
	}
	return dl
}

// TestPoisonTooLargeClaimCheck: a dead letter over the broker's limit goes
// to the claim store, a slim dead letter names it, and Replay restores the
// original body and metadata.
func TestPoisonTooLargeClaimCheck(t *testing.T) {
	tr := limitedMem(t)
	claims := &MemoryClaimStore{}
	dl := runTooLarge(t, tr, WithClaimStore(claims))
	p, err := ParsePoisoned(dl)
	if err != nil {
		t.Fatal(err)
	}
	if p.Claim != "big" || len(dl.Payload) != 0 || dl.Metadata.Get("big") != "" || p.RoutingKey != "trade.binance.BTCUSDT" {
		t.Fatalf("slim dead letter: claim %q, %d payload bytes, metadata %v", p.Claim, len(dl.Payload), dl.Metadata)
	}
	if claims.Len() != 1 {
		t.Fatalf("%d claims stored, want 1", claims.Len())
	}

	// Replay it into a queue with room: the original comes back whole.
	dlq, _ := tr.NewSubscriber("replayer")
	if err := dlq.SubscribeInitialize("deadletter.risk"); err != nil {
		t.Fatal(err)
	}
	dl.SetContext(context.Background())
	if err := tr.Publisher().Publish("deadletter.risk", dl); err != nil {
		t.Fatal(err)
	}
	rec := newRecPub()
	st, err := Replay(context.Background(), dlq, rec, WithConsumerGroup("risk"), WithClaimStore(claims),
		WithReplayLimit(1), WithReplayIdle(10*time.Second), WithLogger(quiet))
	if err != nil || st.Replayed != 1 {
		t.Fatalf("Replay: %+v, %v", st, err)
	}
	got := rec.on("trade.binance.BTCUSDT")
	if len(got) != 1 || len(got[0].Payload) != 4<<10 || got[0].Metadata.Get("big") != strings.Repeat("h", 3500) {
		t.Fatalf("replayed %d messages, want the original body and metadata", len(got))
	}
	if claims.Len() != 0 {
		t.Errorf("claim not deleted after replay")
	}
}

// TestPoisonTooLargeWithoutClaimStore: without a claim store the dead
// letter is published without its body, says so, and the key goes on.
func TestPoisonTooLargeWithoutClaimStore(t *testing.T) {
	dl := runTooLarge(t, limitedMem(t))
	p, err := ParsePoisoned(dl)
	if err != nil {
		t.Fatal(err)
	}
	if p.Claim != "" || !strings.Contains(p.Dropped, "4096 bytes") || len(dl.Payload) != 0 {
		t.Fatalf("dead letter: claim %q dropped %q payload %d bytes", p.Claim, p.Dropped, len(dl.Payload))
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s string
		n int
	}{{"short", 10}, {strings.Repeat("é", 100), 50}, {strings.Repeat("x", 2000), 1024}} {
		got := truncate(tc.s, tc.n)
		if len(got) > tc.n && len(tc.s) > tc.n {
			t.Errorf("truncate(%d bytes, %d) = %d bytes", len(tc.s), tc.n, len(got))
		}
		if !strings.HasPrefix(tc.s, strings.Split(got, "…")[0]) || !utf8Valid(got) {
			t.Errorf("truncate(%q, %d) = %q", tc.s, tc.n, got)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestPoisonKept: with WithPoisonKept the reader's subscription to the
// poison topic exists from the moment the stack is built, so a dead letter
// published before anyone reads the poison topic is kept (mem, like
// RabbitMQ's topic exchange, drops what no queue is bound to: without the
// option the reader finds nothing).
func TestPoisonKept(t *testing.T) {
	for _, keep := range []bool{true, false} {
		tr := limitedMem(t)
		reader, _ := tr.Subscriber("dlq")
		opts := []Option{WithConsumerGroup("risk"), WithLogger(quiet)}
		if keep {
			opts = append(opts, WithPoisonKept(reader))
		}
		stack, err := Default(tr.Publisher(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		h := stack.Middleware(func(msg *message.Message) ([]*message.Message, error) {
			return nil, Permanent(errors.New("rejected"))
		})
		msg := message.NewMessage("e1", []byte("{}"))
		msg.Metadata.Set(events.MetaRoutingKey, "trade.binance.BTCUSDT")
		if _, err := h(msg); err != nil {
			t.Fatal(err)
		}
		if stack.Poison.Published() != 1 {
			t.Fatalf("keep=%v: Published %d", keep, stack.Poison.Published())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ch, err := reader.Subscribe(ctx, "deadletter.risk")
		if err != nil {
			t.Fatal(err)
		}
		if keep {
			select {
			case m := <-ch:
				if m.UUID != "e1" {
					t.Errorf("dead letter %s, want e1", m.UUID)
				}
				m.Ack()
			case <-ctx.Done():
				t.Error("the dead letter was not kept")
			}
		} else {
			// Nothing kept: the channel delivers nothing until ctx ends.
			select {
			case m, ok := <-ch:
				if ok {
					t.Errorf("without WithPoisonKept a dead letter %s was kept by mem", m.UUID)
				}
			default:
			}
		}
		cancel()
	}
	if _, err := NewPoison(newRecPub(), WithPoisonKept(struct{ message.Subscriber }{})); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("WithPoisonKept of a subscriber without SubscribeInitialize: %v", err)
	}
}
