package middleware

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

func TestCorrelation(t *testing.T) {
	mw, err := NewCorrelation()
	if err != nil {
		t.Fatal(err)
	}
	var got events.Envelope
	h := mw(func(msg *message.Message) ([]*message.Message, error) {
		got, _ = events.EnvelopeFromContext(msg.Context())
		explicit := message.NewMessage("p2", nil)
		explicit.Metadata.Set(events.MetaCorrelationID, "other-flow")
		return []*message.Message{message.NewMessage("p1", nil), explicit}, nil
	})

	// A message inside a flow.
	in := testMsg("child")
	in.Metadata.Set(events.MetaCausationID, "parent")
	out, err := h(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "child" || got.CorrelationID != "corr-child" || got.CausationID != "parent" || got.RoutingKey != "trade.binance.BTCUSDT" {
		t.Fatalf("envelope in ctx: %+v", got)
	}
	md := out[0].Metadata
	if md.Get(events.MetaID) != "p1" || md.Get(events.MetaCorrelationID) != "corr-child" || md.Get(events.MetaCausationID) != "child" {
		t.Fatalf("produced metadata %v", md)
	}
	if out[1].Metadata.Get(events.MetaCorrelationID) != "other-flow" || out[1].Metadata.Get(events.MetaCausationID) != "child" {
		t.Fatalf("explicit correlation overwritten: %v", out[1].Metadata)
	}
	if in.Metadata.Get(events.MetaCausationID) != "parent" {
		t.Fatal("incoming metadata modified")
	}

	// A message without correlation id (and without id) starts a flow.
	root := message.NewMessage("root-uuid", nil)
	out, _ = h(root)
	if got.ID != "root-uuid" || got.CorrelationID != "root-uuid" {
		t.Fatalf("envelope of a root: %+v", got)
	}
	if md := out[0].Metadata; md.Get(events.MetaCorrelationID) != "root-uuid" || md.Get(events.MetaCausationID) != "root-uuid" {
		t.Fatalf("produced from a root: %v", md)
	}
	if len(root.Metadata) != 0 {
		t.Fatalf("incoming metadata modified: %v", root.Metadata)
	}
}

func TestRecoverer(t *testing.T) {
	rec, _ := NewRecoverer(WithLogger(quiet))
	_, err := rec(func(*message.Message) ([]*message.Message, error) {
		var m map[string]int
		m["x"] = 1
		return nil, nil
	})(testMsg("a"))
	var pe *PanicError
	if !errors.As(err, &pe) || len(pe.Stack) == 0 || Classify(err) != ClassPanic {
		t.Fatalf("err = %v", err)
	}
	errBoom := errors.New("boom")
	_, err = rec(func(*message.Message) ([]*message.Message, error) { panic(errBoom) })(testMsg("a"))
	if !errors.Is(err, errBoom) {
		t.Fatalf("panic(err) lost err: %v", err)
	}
	out, err := rec(func(*message.Message) ([]*message.Message, error) { return nil, errFlaky })(testMsg("a"))
	if out != nil || err != errFlaky {
		t.Fatal("plain error changed")
	}
}

func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mw, err := NewTimeout(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := NewRetry(WithJitter(0), WithMaxAttempts(2), WithLogger(quiet))
		start := time.Now()
		var ends []time.Duration
		msg := testMsg("a")
		_, err = r.Middleware(mw(func(msg *message.Message) ([]*message.Message, error) {
			<-msg.Context().Done() // a stuck handler that honours ctx
			ends = append(ends, time.Since(start))
			return nil, msg.Context().Err()
		}))(msg)
		// Each attempt gets its own 2s deadline: 0..2s, wait 100ms, 2.1..4.1s.
		if len(ends) != 2 || ends[0] != 2*time.Second || ends[1] != 4100*time.Millisecond {
			t.Fatalf("attempts ended at %v", ends)
		}
		if !errors.Is(err, context.DeadlineExceeded) || msg.Context().Err() != nil {
			t.Fatalf("err = %v", err)
		}
	})
}
