package mem_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

func newMsg(pkey, payload string) *message.Message {
	msg := message.NewMessage(uuid.NewString(), []byte(payload))
	msg.Metadata.Set(events.MetaPartitionKey, pkey)
	return msg
}

func mustSubscribe(t *testing.T, tr *transport.Portable, ctx context.Context, group, pattern string) <-chan *message.Message {
	t.Helper()
	sub, err := tr.NewSubscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func mustPublish(t *testing.T, tr *transport.Portable, key string, msgs ...*message.Message) {
	t.Helper()
	if err := tr.Publisher().Publish(key, msgs...); err != nil {
		t.Fatalf("Publish(%q): %v", key, err)
	}
}

// closeNow closes tr inside a synctest bubble (fake time).
func closeNow(t *testing.T, tr *transport.Portable) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestNewInvalidOptions(t *testing.T) {
	for name, opt := range map[string]mem.Option{
		"concurrency 0":    mem.WithConcurrency(0),
		"buffer -1":        mem.WithBuffer(-1),
		"history -1":       mem.WithHistory(-1),
		"history > max":    mem.WithHistory(mem.MaxHistory + 1),
		"overflow 7":       mem.WithOverflow(mem.Overflow(7)),
		"backoff 0":        mem.WithRedeliveryBackoff(0, time.Second),
		"backoff max < in": mem.WithRedeliveryBackoff(time.Second, time.Millisecond),
		"nil":              nil,
	} {
		if _, err := mem.New(opt); !errors.Is(err, mem.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	good := []string{
		"mem://",
		"mem:///",
		"mem://?concurrency=1",
		"mem://?concurrency=64&buffer=1024&overflow=block",
		"mem://?overflow=fail&redelivery_backoff=1ms&redelivery_backoff_max=50ms",
		"mem://?max_message_bytes=1048576&max_header_bytes=65536",
		"mem://?redelivery_backoff=500ms",
		"mem://?redelivery_backoff=2s", // the max follows the initial
		"mem://?history=0",
		"mem://?history=1048576&buffer=16",
	}
	for _, raw := range good {
		tr, err := transport.Open(ctx, raw)
		if err != nil {
			t.Errorf("Open(%s): %v", raw, err)
			continue
		}
		if err := tr.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	bad := []string{
		"amqp://localhost",
		"mem://host",
		"mem://user:s3cret@/",
		"mem:///path",
		"mem://?concurrency=0",
		"mem://?concurrency=x",
		"mem://?buffer=-5",
		"mem://?overflow=drop",
		"mem://?redelivery_backoff=fast",
		"mem://?redelivery_backoff=2h", // above transport.MaxRedeliveryBackoff
		"mem://?buffer=9223372036854775807",
		"mem://?max_message_bytes=-1",
		"mem://?history=-1",
		"mem://?history=1048577", // above MaxHistory
		"mem://?history=9223372036854775808",
		"mem://?history=lots",
		"mem://?history=1&history=2",
		"mem://?concurrency=1000000000",
		"mem://?unknown=1",
		"mem://?concurrency=1&concurrency=2",
		"mem://?a=%zz",
	}
	for _, raw := range bad {
		_, err := transport.Open(ctx, raw)
		if strings.HasPrefix(raw, "amqp:") {
			u, _ := url.Parse(raw)
			_, err = mem.Open(ctx, u)
		}
		if !errors.Is(err, mem.ErrInvalidOption) {
			t.Errorf("Open(%s): %v, want ErrInvalidOption", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s): error shows the password: %v", raw, err)
		}
	}
	if _, err := mem.Open(ctx, nil); !errors.Is(err, mem.ErrInvalidOption) {
		t.Errorf("Open(nil): %v, want ErrInvalidOption", err)
	}
}

func TestSubscriberErrors(t *testing.T) {
	tr := newMem(t)
	if _, err := tr.Subscriber(""); !errors.Is(err, mem.ErrInvalidGroup) {
		t.Errorf("Subscriber(\"\"): %v, want ErrInvalidGroup", err)
	}
	sub, err := tr.NewSubscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(context.Background(), "k.#")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Error("channel delivered after Subscriber.Close")
	}
	if _, err := sub.Subscribe(context.Background(), "k.#"); !errors.Is(err, mem.ErrClosed) {
		t.Errorf("Subscribe after Subscriber.Close: %v, want ErrClosed", err)
	}
	if err := sub.SubscribeInitialize("k.#"); !errors.Is(err, mem.ErrClosed) {
		t.Errorf("SubscribeInitialize after Subscriber.Close: %v, want ErrClosed", err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Subscriber.Close: %v", err)
	}
	closeNow(t, tr)
	if _, err := tr.Subscriber("g"); !errors.Is(err, mem.ErrClosed) {
		t.Errorf("Subscriber after Close: %v, want ErrClosed", err)
	}
	if err := tr.Publisher().Publish("k.a", newMsg("p", "x")); !errors.Is(err, mem.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

// TestRedeliveryBackoff: a nacked message comes back after 10ms, 20ms,
// 40ms … capped at 1s — not in a hot loop.
func TestRedeliveryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t)
		ch := mustSubscribe(t, tr, t.Context(), "g", "k.#")
		mustPublish(t, tr, "k.a", newMsg("p", "x"))
		var gaps []time.Duration
		last := time.Now()
		for range 10 {
			msg := <-ch
			gaps = append(gaps, time.Since(last))
			last = time.Now()
			msg.Nack()
		}
		msg := <-ch
		gaps = append(gaps, time.Since(last))
		msg.Ack()
		ms := time.Millisecond
		want := []time.Duration{0, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second, time.Second}
		if fmt.Sprint(gaps) != fmt.Sprint(want) {
			t.Errorf("gaps between deliveries %v, want %v", gaps, want)
		}
		closeNow(t, tr)
	})
}

// TestNackKeepsKeyOrderOnly: while a nacked message of key A waits for its
// redelivery, later messages of A wait too, but key B goes on.
func TestNackKeepsKeyOrderOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t, mem.WithRedeliveryBackoff(time.Second, time.Second))
		ch := mustSubscribe(t, tr, t.Context(), "g", "k.#")
		mustPublish(t, tr, "k.A", newMsg("A", "A0"), newMsg("A", "A1"))
		first := <-ch
		if string(first.Payload) != "A0" {
			t.Fatalf("first delivery %s", first.Payload)
		}
		first.Nack()
		start := time.Now()
		mustPublish(t, tr, "k.B", newMsg("B", "B0"))
		var got []string
		for range 3 {
			msg := <-ch
			got = append(got, fmt.Sprintf("%s@%s", msg.Payload, time.Since(start)))
			msg.Ack()
		}
		want := []string{"B0@0s", "A0@1s", "A1@1s"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("deliveries %v, want %v", got, want)
		}
		closeNow(t, tr)
	})
}

// TestConcurrencyBound: at most WithConcurrency messages are in flight at
// once, across keys; the next key is delivered once one is acked.
func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t, mem.WithConcurrency(3))
		ch := mustSubscribe(t, tr, t.Context(), "g", "k.#")
		for i := range 10 {
			mustPublish(t, tr, "k.x", newMsg(strconv.Itoa(i), strconv.Itoa(i)))
		}
		var held []*message.Message
		for range 3 {
			held = append(held, <-ch)
		}
		synctest.Wait()
		select {
		case msg := <-ch:
			t.Fatalf("4th message %s delivered while 3 (the limit) were unacked", msg.Payload)
		default:
		}
		held[0].Ack()
		synctest.Wait()
		select {
		case msg := <-ch:
			msg.Ack()
		default:
			t.Fatal("no delivery after an ack freed a slot")
		}
		for _, m := range held[1:] {
			m.Ack()
		}
		for range 6 {
			(<-ch).Ack()
		}
		closeNow(t, tr)
	})
}

// TestOverflowFail: a group without a member fills up; then Publish fails
// with *BufferFullError, and nothing accepted is lost.
func TestOverflowFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t, mem.WithBuffer(2), mem.WithConcurrency(1), mem.WithOverflow(mem.OverflowFail))
		sub, err := tr.NewSubscriber("g")
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.SubscribeInitialize("k.#"); err != nil {
			t.Fatal(err)
		}
		var accepted []string
		var err2 error
		for i := range 10 {
			msg := newMsg("p", strconv.Itoa(i))
			if err2 = tr.Publisher().Publish("k.a", msg); err2 != nil {
				break
			}
			accepted = append(accepted, string(msg.Payload))
			synctest.Wait() // let the dispatcher take what it can
		}
		var full *mem.BufferFullError
		if !errors.As(err2, &full) || !errors.Is(err2, mem.ErrBufferFull) {
			t.Fatalf("Publish into a full queue: %v, want *BufferFullError", err2)
		}
		if full.Group != "g" || full.Pattern != "k.#" || full.Key != "k.a" || full.Capacity != 2 {
			t.Errorf("BufferFullError fields %+v", *full)
		}
		// The queue holds 2 (the buffer) while nobody receives.
		if len(accepted) != 2 {
			t.Errorf("accepted %d messages before ErrBufferFull, want 2", len(accepted))
		}
		ch, err := sub.Subscribe(t.Context(), "k.#")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for range accepted {
			msg := <-ch
			got = append(got, string(msg.Payload))
			msg.Ack()
		}
		if fmt.Sprint(got) != fmt.Sprint(accepted) {
			t.Errorf("delivered %v, want %v", got, accepted)
		}
		closeNow(t, tr)
	})
}

// TestOverflowBlock: Publish into a full queue waits until the message's
// ctx is done, or until a consumer makes room.
func TestOverflowBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t, mem.WithBuffer(1), mem.WithConcurrency(1))
		sub, err := tr.NewSubscriber("g")
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.SubscribeInitialize("k.#"); err != nil {
			t.Fatal(err)
		}
		mustPublish(t, tr, "k.a", newMsg("p", "0")) // fills the buffer of 1
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		msg := newMsg("p", "late")
		msg.SetContext(ctx)
		start := time.Now()
		err = tr.Publisher().Publish("k.a", msg)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Fatalf("Publish into a full queue: %v after %s, want DeadlineExceeded after 5s", err, time.Since(start))
		}

		done := make(chan error, 1)
		go func() { done <- tr.Publisher().Publish("k.a", newMsg("p", "1")) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Publish into a full queue returned %v", err)
		default:
		}
		ch, err := sub.Subscribe(t.Context(), "k.#")
		if err != nil {
			t.Fatal(err)
		}
		// The subscription takes "0": room for "1".
		if err := <-done; err != nil {
			t.Fatalf("blocked Publish after room was made: %v", err)
		}
		for i := 0; i <= 1; i++ {
			msg := <-ch
			if string(msg.Payload) != strconv.Itoa(i) {
				t.Errorf("delivery %d: %s", i, msg.Payload)
			}
			msg.Ack()
		}
		closeNow(t, tr)
	})
}

// TestCopies: every group gets its own copy; changing or acking one does
// not touch the others, nor does changing the published message.
func TestCopies(t *testing.T) {
	tr := newMem(t)
	chA := mustSubscribe(t, tr, t.Context(), "a", "k.#")
	chB := mustSubscribe(t, tr, t.Context(), "b", "k.*")
	orig := newMsg("p", "payload")
	orig.Metadata.Set("x", "1")
	mustPublish(t, tr, "k.a", orig)
	orig.Payload[0] = 'X'
	orig.Metadata.Set("x", "changed")

	a := <-chA
	a.Payload[0] = 'A'
	a.Metadata.Set("x", "from a")
	a.Ack()
	b := <-chB
	if string(b.Payload) != "payload" || b.Metadata.Get("x") != "1" {
		t.Errorf("group b got payload %q x=%q, want %q x=1", b.Payload, b.Metadata.Get("x"), "payload")
	}
	if b.Metadata.Get(events.MetaRoutingKey) != "k.a" {
		t.Errorf("routingkey %q, want k.a", b.Metadata.Get(events.MetaRoutingKey))
	}
	select {
	case <-b.Acked():
		t.Error("group b's copy is acked by group a's ack")
	default:
	}
	b.Nack()
	b2 := <-chB // redelivered: a fresh copy
	if b2 == b || string(b2.Payload) != "payload" {
		t.Errorf("redelivery is the same *Message or changed: %q", b2.Payload)
	}
	b2.Ack()
}

// TestLateGroupMissesOldMessages: a queue gets only what is published
// after it was created — also when the broker keeps history; a key nobody
// subscribed to is dropped.
func TestLateGroupMissesOldMessages(t *testing.T) {
	for _, history := range []int{0, 16} {
		t.Run(fmt.Sprintf("history=%d", history), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := newMem(t, mem.WithHistory(history))
				mustPublish(t, tr, "k.a", newMsg("p", "old"))
				ch := mustSubscribe(t, tr, t.Context(), "g", "k.#")
				mustPublish(t, tr, "k.a", newMsg("p", "new"))
				msg := <-ch
				if string(msg.Payload) != "new" {
					t.Errorf("first delivery %q, want new", msg.Payload)
				}
				msg.Ack()
				synctest.Wait()
				select {
				case msg := <-ch:
					t.Errorf("unexpected delivery %q", msg.Payload)
				default:
				}
				closeNow(t, tr)
			})
		})
	}
}

// TestMessageContext: a delivery's ctx carries the Subscribe ctx's values
// and ends with the ack.
func TestMessageContext(t *testing.T) {
	type key struct{}
	tr := newMem(t)
	ctx := context.WithValue(t.Context(), key{}, "v")
	ch := mustSubscribe(t, tr, ctx, "g", "k.#")
	pub := newMsg("p", "x")
	pub.SetContext(context.WithValue(context.Background(), key{}, "publisher"))
	mustPublish(t, tr, "k.a", pub)
	msg := <-ch
	if got := msg.Context().Value(key{}); got != "v" {
		t.Errorf("delivery ctx value %v, want the Subscribe ctx's", got)
	}
	if msg.Context().Err() != nil {
		t.Fatal("delivery ctx done before ack")
	}
	msg.Ack()
	select {
	case <-msg.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("delivery ctx not cancelled after ack")
	}
}

// TestSubscribeCancelRedelivers: a message in flight when its member's ctx
// ends goes to the other member at once.
func TestSubscribeCancelRedelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t)
		ctx1, cancel1 := context.WithCancel(t.Context())
		ch1 := mustSubscribe(t, tr, ctx1, "g", "k.#")
		mustPublish(t, tr, "k.a", newMsg("p", "x"))
		held := <-ch1
		ch2 := mustSubscribe(t, tr, t.Context(), "g", "k.#")
		start := time.Now()
		cancel1()
		if _, ok := <-ch1; ok {
			t.Fatal("cancelled member's channel delivered")
		}
		msg := <-ch2
		if msg.UUID != held.UUID || time.Since(start) != 0 {
			t.Errorf("redelivered %s after %s, want %s at once", msg.UUID, time.Since(start), held.UUID)
		}
		msg.Ack()
		held.Ack() // too late: harmless
		closeNow(t, tr)
	})
}

// TestCloseDeadline: Close with a handler that never acks returns the
// deadline error after the deadline and still stops everything.
func TestCloseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := mem.New()
		if err != nil {
			t.Fatal(err)
		}
		ch := mustSubscribe(t, tr, context.Background(), "g", "k.#")
		for i := range 5 {
			mustPublish(t, tr, "k.a", newMsg(strconv.Itoa(i), "x"))
		}
		held := <-ch
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err = tr.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Errorf("Close: %v after %s, want DeadlineExceeded after 3s", err, time.Since(start))
		}
		if _, ok := <-ch; ok {
			t.Error("channel open after Close")
		}
		if err := tr.Close(context.Background()); err != nil {
			t.Errorf("second Close: %v", err)
		}
		held.Ack()
		// synctest.Test fails if any goroutine of the bubble is left.
	})
}

// TestCloseDiscardsQueued: messages no member took are dropped by Close,
// which does not wait for them.
func TestCloseDiscardsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := mem.New()
		if err != nil {
			t.Fatal(err)
		}
		sub, _ := tr.NewSubscriber("g")
		if err := sub.SubscribeInitialize("k.#"); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			mustPublish(t, tr, "k.a", newMsg(strconv.Itoa(i%7), "x"))
		}
		start := time.Now()
		if err := tr.Close(context.Background()); err != nil || time.Since(start) != 0 {
			t.Errorf("Close: %v after %s", err, time.Since(start))
		}
	})
}

// TestConcurrentUse hammers one transport from many goroutines (for -race):
// publishers, members joining and leaving, acks and nacks. Every message
// is handled at least once.
func TestConcurrentUse(t *testing.T) {
	tr := newMem(t, mem.WithConcurrency(8), mem.WithRedeliveryBackoff(time.Millisecond, time.Millisecond))
	const publishers, perPublisher = 4, 100
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		n    atomic.Int64
	)
	handle := func(ch <-chan *message.Message) {
		for msg := range ch {
			if n.Add(1)%10 == 0 {
				msg.Nack()
				continue
			}
			mu.Lock()
			seen[msg.UUID] = true
			mu.Unlock()
			msg.Ack()
		}
	}
	var consumers sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 2 {
		ch := mustSubscribe(t, tr, ctx, "g", "k.#")
		consumers.Go(func() { handle(ch) })
	}
	// A member that comes and goes.
	consumers.Go(func() {
		for range 5 {
			c, stop := context.WithCancel(ctx)
			ch := mustSubscribe(t, tr, c, "g", "k.#")
			go func() { time.Sleep(2 * time.Millisecond); stop() }()
			handle(ch)
		}
	})
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Go(func() {
			for i := range perPublisher {
				msg := newMsg(strconv.Itoa(i%5), "x")
				if err := tr.Publisher().Publish(fmt.Sprintf("k.p%d", p), msg); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	pubs.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == publishers*perPublisher {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %d of %d", got, publishers*perPublisher)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	consumers.Wait()
}

// TestSoleMemberLeaves: with one member, deliveries go straight to its
// channel. When it leaves — with a message delivered but unacked and the
// next one waiting to be taken — both go, in key order, to the member that
// joins next, and its channel is closed without a panic.
func TestSoleMemberLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newMem(t, mem.WithConcurrency(2))
		ctx1, cancel1 := context.WithCancel(t.Context())
		ch1 := mustSubscribe(t, tr, ctx1, "g", "k.#")
		for i := range 3 {
			mustPublish(t, tr, "k.a", newMsg("p", strconv.Itoa(i)))
		}
		mustPublish(t, tr, "k.b", newMsg("q", "q")) // its lane blocks sending to ch1
		held := <-ch1
		if string(held.Payload) != "0" && string(held.Payload) != "q" {
			t.Fatalf("first delivery %q, want 0 or q", held.Payload)
		}
		synctest.Wait()
		cancel1()
		for range ch1 {
			t.Fatal("left member's channel delivered")
		}
		synctest.Wait()
		ch2 := mustSubscribe(t, tr, t.Context(), "g", "k.#")
		var got []string
		for range 4 {
			msg := <-ch2
			got = append(got, string(msg.Payload))
			msg.Ack()
		}
		held.Ack() // too late: harmless
		var p []string
		for _, g := range got {
			if g != "q" {
				p = append(p, g)
			}
		}
		if strings.Join(p, ",") != "0,1,2" || len(got) != 4 {
			t.Errorf("second member got %v, want 0,1,2 in order and q", got)
		}
		closeNow(t, tr)
	})
}
