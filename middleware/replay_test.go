package middleware

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

func newMem(t *testing.T) *transport.Portable {
	t.Helper()
	tr, err := mem.New(mem.WithRedeliveryBackoff(time.Millisecond, 10*time.Millisecond))
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

// drain receives n messages from (group, pattern) and acks them.
func drain(t *testing.T, tr *transport.Portable, group, pattern string, n int) []*message.Message {
	t.Helper()
	sub, err := tr.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []*message.Message
	for len(out) < n {
		select {
		case m := <-ch:
			out = append(out, m.Copy())
			m.Ack()
		case <-time.After(5 * time.Second):
			t.Fatalf("received %d of %d", len(out), n)
		}
	}
	return out
}

// The Replay tests run in a synctest bubble: Replay ends after an idle
// window (WithReplayIdle), and only fake time makes "the redelivery came
// before the window closed" independent of how busy the machine is.
func TestReplay(t *testing.T) { synctest.Test(t, testReplay) }

func testReplay(t *testing.T) {
	tr := newMem(t)
	dlq, _ := tr.NewSubscriber("dlq")
	if err := dlq.SubscribeInitialize("deadletter.exec"); err != nil {
		t.Fatal(err)
	}
	app, _ := tr.NewSubscriber("app")
	if err := app.SubscribeInitialize("trade.#"); err != nil {
		t.Fatal(err)
	}
	p, _ := NewPoison(tr.Publisher(), WithConsumerGroup("exec"), WithLogger(quiet))
	errBadPrice := errors.New("bad price")
	for _, id := range []string{"a", "b", "c"} {
		msg := testMsg(id)
		msg.Metadata.Set(events.MetaRoutingKey, "trade.binance."+strings.ToUpper(id)+"USDT")
		msg.Metadata.Set(MetaRetryAttempts, "3") // poisoned after requeues: delivery metadata
		h := p.Middleware(func(*message.Message) ([]*message.Message, error) {
			if id == "b" {
				return nil, errFlaky
			}
			return nil, Permanent(errBadPrice)
		})
		if _, err := h(msg); err != nil {
			t.Fatal(err)
		}
	}
	// Not a poisoned message: kept.
	if err := tr.Publisher().Publish("deadletter.exec", message.NewMessage("stray", nil)); err != nil {
		t.Fatal(err)
	}

	sub, _ := tr.Subscriber("dlq")
	ctx := context.Background()
	st, err := Replay(ctx, sub, tr.Publisher(), WithConsumerGroup("exec"), WithReplayIdle(100*time.Millisecond), WithLogger(quiet),
		WithReplayFilter(func(p Poisoned) bool { return p.Class == ClassPermanent }))
	if err != nil {
		t.Fatal(err)
	}
	if st != (ReplayStats{Replayed: 2, Kept: 2}) {
		t.Fatalf("stats %+v", st)
	}
	got := drain(t, tr, "app", "trade.#", 2)
	for _, m := range got {
		md := m.Metadata
		if m.UUID != md.Get(events.MetaID) || md.Get(events.MetaCorrelationID) != "corr-"+m.UUID || string(m.Payload) != `{"n":1}` {
			t.Fatalf("replayed message changed: %s %v", m.UUID, md)
		}
		if md.Get(events.MetaRoutingKey) != "trade.binance."+strings.ToUpper(m.UUID)+"USDT" || md.Get(MetaReplayCount) != "1" || md.Get(MetaReplayedAt) == "" {
			t.Fatalf("replay metadata %v", md)
		}
		for k := range md {
			if strings.HasPrefix(k, "tradebus_poison_") || strings.HasPrefix(k, "tradebus_retry_") {
				t.Fatalf("stale delivery metadata %q", k)
			}
		}
	}

	// Second pass with a limit: b (transient) is replayed, the stray stays.
	st, err = Replay(ctx, sub, tr.Publisher(), WithPoisonTopic("deadletter.exec"), WithReplayLimit(1), WithReplayIdle(100*time.Millisecond), WithLogger(quiet),
		WithReplayFilter(func(p Poisoned) bool { return p.EventID == "b" }))
	if err != nil || st.Replayed != 1 {
		t.Fatalf("stats %+v err %v", st, err)
	}
	if m := drain(t, tr, "app", "trade.#", 1)[0]; m.UUID != "b" {
		t.Fatalf("replayed %s", m.UUID)
	}
	st, err = Replay(ctx, sub, tr.Publisher(), WithConsumerGroup("exec"), WithReplayIdle(100*time.Millisecond), WithLogger(quiet))
	if err != nil || st != (ReplayStats{Kept: 1}) {
		t.Fatalf("stats %+v err %v", st, err)
	}

	// ctx ends a replay waiting for messages.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Replay(cctx, sub, tr.Publisher(), WithPoisonTopic("deadletter.empty"), WithReplayIdle(time.Hour), WithLogger(quiet)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestReplayPublishFailureNacks(t *testing.T) { synctest.Test(t, testReplayPublishFailureNacks) }

func testReplayPublishFailureNacks(t *testing.T) {
	tr := newMem(t)
	dlq, _ := tr.NewSubscriber("dlq")
	_ = dlq.SubscribeInitialize("deadletter")
	p, _ := NewPoison(tr.Publisher(), WithLogger(quiet))
	if _, err := p.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, Permanent(errFlaky) })(testMsg("a")); err != nil {
		t.Fatal(err)
	}
	bad := newRecPub()
	bad.fails = 1
	if _, err := Replay(context.Background(), dlq, bad, WithReplayIdle(100*time.Millisecond), WithLogger(quiet)); err == nil {
		t.Fatal("publish failure not reported")
	}
	// Nacked, so still in the poison queue.
	st, err := Replay(context.Background(), dlq, bad, WithReplayIdle(100*time.Millisecond), WithLogger(quiet))
	if err != nil || st.Replayed != 1 || len(bad.on("trade.binance.BTCUSDT")) != 1 {
		t.Fatalf("stats %+v err %v", st, err)
	}
}

// A replayed message that fails again: its dead letter names the
// subscription's group and is not addressed to any group (the dead-letter
// reader must see it); Replay addresses the next replay again.
func TestPoisonOfAReplay(t *testing.T) {
	tr := newMem(t)
	dlq, _ := tr.NewSubscriber("dlq")
	_ = dlq.SubscribeInitialize("deadletter.risk")
	risk, _ := tr.NewSubscriber("risk")
	_ = risk.SubscribeInitialize("trade.#")
	msg := testMsg("a")
	msg.Metadata.Set(MetaReplayGroup, "risk")
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", msg); err != nil {
		t.Fatal(err)
	}
	got := drainWith(t, risk, "trade.#", func(m *message.Message) {
		p, _ := NewPoison(tr.Publisher(), WithConsumerGroup("risk"), WithLogger(quiet))
		if _, err := p.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, Permanent(errFlaky) })(m); err != nil {
			t.Fatal(err)
		}
	})
	if got.UUID != "a" {
		t.Fatalf("got %s", got.UUID)
	}
	dead := drain(t, tr, "dlq", "deadletter.risk", 1)[0]
	if g, ok := dead.Metadata[MetaReplayGroup]; ok || dead.Metadata.Get(MetaPoisonSubscriberGroup) != "risk" {
		t.Fatalf("dead letter addressed to %q (%v), subscriber group %q", g, ok, dead.Metadata.Get(MetaPoisonSubscriberGroup))
	}
	if p, err := ParsePoisoned(dead); err != nil || p.SubscriberGroup != "risk" {
		t.Fatalf("parsed %+v %v", p, err)
	}
	rm := replayMessage(dead, "trade.binance.BTCUSDT", "risk")
	if rm.Metadata.Get(MetaReplayGroup) != "risk" || rm.Metadata.Get(MetaPoisonSubscriberGroup) != "" {
		t.Fatalf("replay metadata %v", rm.Metadata)
	}
	if rm = replayMessage(msg, "trade.binance.BTCUSDT", ""); rm.Metadata.Get(MetaReplayGroup) != "" {
		t.Fatalf("stale address kept: %v", rm.Metadata)
	}
}

// drainWith receives one message of (sub, pattern), runs fn on it (with
// the delivery's context) and acks it.
func drainWith(t *testing.T, sub *transport.Subscriber, pattern string, fn func(*message.Message)) *message.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		fn(m)
		m.Ack()
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received")
		return nil
	}
}

// WithReplayStopAfter: Replay goes through the n messages and returns,
// without waiting for an idle window (an hour here).
func TestReplayStopAfter(t *testing.T) {
	tr := newMem(t)
	dlq, _ := tr.NewSubscriber("dlq")
	_ = dlq.SubscribeInitialize("deadletter.exec")
	p, _ := NewPoison(tr.Publisher(), WithConsumerGroup("exec"), WithLogger(quiet))
	for _, id := range []string{"a", "b", "c"} {
		if _, err := p.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, Permanent(errFlaky) })(testMsg(id)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := Replay(ctx, dlq, newRecPub(), WithConsumerGroup("exec"), WithReplayStopAfter(3), WithReplayIdle(time.Hour),
		WithLogger(quiet), WithReplayFilter(func(p Poisoned) bool { return p.EventID == "b" }))
	if err != nil || st != (ReplayStats{Replayed: 1, Kept: 2}) {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	if _, err := Replay(ctx, dlq, newRecPub(), WithReplayStopAfter(-1)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("WithReplayStopAfter(-1): %v", err)
	}
}
