package middleware

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// The stack's order, observed from the outcome: a panic is recovered inside
// retry (retried), then poisoned with class panic; a duplicate never reaches
// the handler; the envelope is in the ctx at the handler; a failing store is
// retried, not poisoned.
func TestDefaultOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := newRecPub()
		s, err := Default(pub, WithConsumerGroup("g"), WithMaxAttempts(3), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		h := s.Middleware(func(msg *message.Message) ([]*message.Message, error) {
			calls.Add(1)
			env, ok := events.EnvelopeFromContext(msg.Context())
			if !ok || env.ID != msg.UUID {
				t.Errorf("no envelope in ctx")
			}
			switch msg.UUID {
			case "panics":
				panic("boom")
			case "fails-once":
				if calls.Load() == 1 {
					return nil, errFlaky
				}
			}
			return nil, nil
		})
		if _, err := h(testMsg("panics")); err != nil {
			t.Fatal(err)
		}
		pd, err := ParsePoisoned(pub.on("deadletter.g")[0])
		if err != nil || pd.Class != ClassPanic || pd.Attempts != 3 || calls.Load() != 3 {
			t.Fatalf("calls %d poisoned %+v err %v", calls.Load(), pd, err)
		}

		calls.Store(0)
		for range 3 {
			if _, err := h(testMsg("fails-once")); err != nil {
				t.Fatal(err)
			}
		}
		if calls.Load() != 2 || s.Dedup.Stats().Duplicates != 2 {
			t.Fatalf("calls %d stats %+v", calls.Load(), s.Dedup.Stats())
		}

		// Same stack with a flaky store: the lookup error is retried.
		fs := &flakyStore{MemoryStore: must(NewMemoryStore()), fails: 2}
		s2, _ := Default(pub, WithDedupStore(fs), WithJitter(0), WithLogger(quiet))
		start := time.Now()
		if _, err := s2.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, nil })(testMsg("x")); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 300*time.Millisecond || len(pub.on("deadletter")) != 0 {
			t.Fatalf("store failure not retried: %v", time.Since(start))
		}
	})
}

func TestStackMiddlewaresIsACopy(t *testing.T) {
	s, _ := Default(newRecPub())
	m := s.Middlewares()
	m[0] = nil
	if s.Middlewares()[0] == nil {
		t.Fatal("Middlewares exposes internal slice")
	}
}

type flakyStore struct {
	*MemoryStore
	fails int
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) Seen(ctx context.Context, key string) (bool, error) {
	if s.fails > 0 {
		s.fails--
		return false, errStoreDown
	}
	return s.MemoryStore.Seen(ctx, key)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
