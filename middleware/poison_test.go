package middleware

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

func TestPoisonMetadata(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := newRecPub()
		p, err := NewPoison(pub, WithConsumerGroup("strategy"), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := NewRetry(WithJitter(0), WithMaxAttempts(3), WithLogger(quiet))
		start := time.Now()
		msg := testMsg("a")
		orig := maps.Clone(msg.Metadata)
		out, err := p.Middleware(r.Middleware(func(*message.Message) ([]*message.Message, error) {
			return []*message.Message{message.NewMessage("produced", nil)}, errFlaky
		}))(msg)
		if err != nil || out != nil {
			t.Fatalf("poisoned message not acked: out=%v err=%v", out, err)
		}
		got := pub.on("deadletter.strategy")
		if len(got) != 1 || p.Published() != 1 {
			t.Fatalf("poison topic holds %d", len(got))
		}
		pm := got[0]
		if pm.UUID != "a" || string(pm.Payload) != `{"n":1}` {
			t.Fatalf("body changed: %s %s", pm.UUID, pm.Payload)
		}
		for k, v := range orig {
			if pm.Metadata.Get(k) != v {
				t.Fatalf("metadata %q changed: %q -> %q", k, v, pm.Metadata.Get(k))
			}
		}
		if !maps.Equal(msg.Metadata, orig) {
			t.Fatal("original message metadata modified")
		}
		pd, err := ParsePoisoned(pm)
		if err != nil {
			t.Fatal(err)
		}
		want := Poisoned{
			EventID: "a", Type: "tradebus.trade.v1",
			Reason: "gave up after 3 attempts: flaky downstream", Class: ClassTransient,
			RoutingKey: "trade.binance.BTCUSDT", Group: "strategy", Attempts: 3,
			FirstFailure: start.UTC(), LastFailure: start.Add(300 * time.Millisecond).UTC(), Message: pm,
		}
		if pd != want {
			t.Fatalf("poisoned = %+v\nwant       %+v", pd, want)
		}
	})
}

func TestPoisonPermanentAndPanic(t *testing.T) {
	pub := newRecPub()
	p, _ := NewPoison(pub, WithLogger(quiet))
	r, _ := NewRetry(WithLogger(quiet))
	rec, _ := NewRecoverer(WithLogger(quiet))
	calls := 0
	h := p.Middleware(r.Middleware(rec(func(msg *message.Message) ([]*message.Message, error) {
		calls++
		if msg.UUID == "bad" {
			return nil, Permanent(errors.New(`price "-1": must be > 0`))
		}
		panic("nil map write")
	})))
	if _, err := h(testMsg("bad")); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("permanent error retried: %d calls", calls)
	}
	pd, _ := ParsePoisoned(pub.on("deadletter")[0])
	if pd.Class != ClassPermanent || pd.Reason != `price "-1": must be > 0` || pd.Attempts != 1 || pd.Stack != "" {
		t.Fatalf("%+v", pd)
	}

	r, _ = NewRetry(WithLogger(quiet), WithBackoff(time.Microsecond, 1, time.Microsecond))
	h = p.Middleware(r.Middleware(rec(func(msg *message.Message) ([]*message.Message, error) {
		calls++
		panic("nil map write")
	})))
	calls = 0
	if _, err := h(testMsg("panics")); err != nil {
		t.Fatal(err)
	}
	pd, _ = ParsePoisoned(pub.on("deadletter")[1])
	if calls != DefaultMaxAttempts || pd.Class != ClassPanic || pd.Attempts != DefaultMaxAttempts ||
		!strings.Contains(pd.Reason, "handler panic: nil map write") || !strings.Contains(pd.Stack, "poison_test.go") {
		t.Fatalf("calls=%d %+v", calls, pd)
	}
}

func TestPoisonPublishFailureNacks(t *testing.T) {
	pub := newRecPub()
	pub.fails = 1
	p, _ := NewPoison(pub, WithLogger(quiet))
	_, err := p.Middleware(func(*message.Message) ([]*message.Message, error) {
		return nil, Permanent(errFlaky)
	})(testMsg("a"))
	if !errors.Is(err, ErrPoisonPublish) || !errors.Is(err, errFlaky) {
		t.Fatalf("err = %v", err)
	}
	if p.Published() != 0 {
		t.Fatal("counted a failed publish")
	}
}

// Through a real router: the first poison publish fails, so the original is
// nacked and redelivered; the second succeeds, so the redelivery is acked.
func TestPoisonAckOnlyAfterPublish(t *testing.T) {
	pub := newRecPub()
	pub.fails = 1
	p, _ := NewPoison(pub, WithLogger(quiet))
	var mu sync.Mutex
	var delivered []*message.Message
	gc := runRouter(t, "orders", func(msg *message.Message) error {
		mu.Lock()
		delivered = append(delivered, msg)
		mu.Unlock()
		return Permanent(errFlaky)
	}, p.Middleware)
	if err := gc.Publish("orders", testMsg("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redelivery to be acked", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 2 && ackState(delivered[1]) == "ack"
	})
	mu.Lock()
	defer mu.Unlock()
	if ackState(delivered[0]) != "nack" {
		t.Fatalf("first delivery %q, want nack", ackState(delivered[0]))
	}
	if n := len(pub.on("deadletter")); n != 1 {
		t.Fatalf("poison topic holds %d", n)
	}
	if pm := pub.on("deadletter")[0]; pm.Metadata.Get(MetaPoisonHandler) != "h" || pm.Metadata.Get(MetaPoisonTopic) != "orders" {
		t.Fatalf("handler/topic metadata: %v", pm.Metadata)
	}
}

func TestPoisonNotOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := newRecPub()
		p, _ := NewPoison(pub, WithLogger(quiet))
		r, _ := NewRetry(WithLogger(quiet))
		ctx, cancel := context.WithCancel(context.Background())
		msg := testMsg("a")
		msg.SetContext(ctx)
		time.AfterFunc(150*time.Millisecond, cancel) // router closing during the backoff
		_, err := p.Middleware(r.Middleware(func(*message.Message) ([]*message.Message, error) {
			return nil, errFlaky
		}))(msg)
		if !errors.Is(err, context.Canceled) || pub.count() != 0 {
			t.Fatalf("err=%v poisoned=%d", err, pub.count())
		}
	})
}

func TestParsePoisonedRejectsPlainMessage(t *testing.T) {
	if _, err := ParsePoisoned(testMsg("a")); !errors.Is(err, ErrNotPoisoned) {
		t.Fatal(err)
	}
}
