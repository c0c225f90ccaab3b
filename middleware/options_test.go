package middleware

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestInvalidOptions(t *testing.T) {
	pub := newRecPub()
	cases := []struct {
		name string
		err  func() error
	}{
		{"zero option", func() error { _, err := NewRetry(Option{}); return err }},
		{"attempts 0", func() error { _, err := NewRetry(WithMaxAttempts(0)); return err }},
		{"backoff initial 0", func() error { _, err := NewRetry(WithBackoff(0, 2, time.Second)); return err }},
		{"backoff max<initial", func() error { _, err := NewRetry(WithBackoff(time.Second, 2, time.Millisecond)); return err }},
		{"backoff mult<1", func() error { _, err := NewRetry(WithBackoff(time.Millisecond, 0.5, time.Second)); return err }},
		{"backoff mult NaN", func() error { _, err := NewRetry(WithBackoff(time.Millisecond, math.NaN(), time.Second)); return err }},
		{"jitter 1", func() error { _, err := NewRetry(WithJitter(1)); return err }},
		{"jitter -0.1", func() error { _, err := NewRetry(WithJitter(-0.1)); return err }},
		{"max elapsed 0", func() error { _, err := NewRetry(WithMaxElapsed(0)); return err }},
		{"nil classifier", func() error { _, err := NewRetry(WithPermanentIf(nil)); return err }},
		{"nil requeue pub", func() error { _, err := NewRetry(WithRequeue(nil, 1)); return err }},
		{"negative requeues", func() error { _, err := NewRetry(WithRequeue(pub, -1)); return err }},
		{"bad group", func() error { _, err := NewRetry(WithConsumerGroup("a.b")); return err }},
		{"empty group", func() error { _, err := NewPoison(pub, WithConsumerGroup("")); return err }},
		{"nil logger", func() error { _, err := NewRecoverer(WithLogger(nil)); return err }},
		{"misplaced option", func() error { _, err := NewRetry(WithDedupTTL(time.Second)); return err }},
		{"misplaced option 2", func() error { _, err := NewDedup(WithMaxAttempts(3)); return err }},
		{"nil poison pub", func() error { _, err := NewPoison(nil); return err }},
		{"poison topic pattern", func() error { _, err := NewPoison(pub, WithPoisonTopic("deadletter.*")); return err }},
		{"poison topic bad", func() error { _, err := NewPoison(pub, WithPoisonTopic("dead letter")); return err }},
		{"nil store", func() error { _, err := NewDedup(WithDedupStore(nil)); return err }},
		{"ttl 0", func() error { _, err := NewDedup(WithDedupTTL(0)); return err }},
		{"nil key func", func() error { _, err := NewDedup(WithDedupKey(nil)); return err }},
		{"empty namespace", func() error { _, err := NewDedup(WithDedupNamespace("")); return err }},
		{"store timeout", func() error { _, err := NewDedup(WithStoreTimeout(-1)); return err }},
		{"timeout 0", func() error { _, err := NewTimeout(0); return err }},
		{"max entries 0", func() error { _, err := NewMemoryStore(WithMaxEntries(0)); return err }},
		{"max entries over 2^29", func() error { _, err := NewMemoryStore(WithMaxEntries(1<<29 + 1)); return err }},
		{"nil memory option", func() error { _, err := NewMemoryStore(nil); return err }},
		{"default nil pub", func() error { _, err := Default(nil); return err }},
		{"default replay option", func() error { _, err := Default(pub, WithReplayLimit(3)); return err }},
		{"default handler timeout", func() error { _, err := Default(pub, WithHandlerTimeout(0)); return err }},
		{"correlation option", func() error { _, err := NewCorrelation(WithMaxAttempts(2)); return err }},
		{"replay limit", func() error { _, err := Replay(t.Context(), nil, pub); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("got %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestZeroOptionsAreValid(t *testing.T) {
	pub := newRecPub()
	if _, err := NewRetry(); err != nil {
		t.Fatal(err)
	}
	p, err := NewPoison(pub)
	if err != nil || p.Topic() != "deadletter" {
		t.Fatal(p, err)
	}
	p, err = NewPoison(pub, WithConsumerGroup("strategy"))
	if err != nil || p.Topic() != "deadletter.strategy" {
		t.Fatal(p, err)
	}
	if _, err := NewDedup(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCorrelation(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRecoverer(); err != nil {
		t.Fatal(err)
	}
	s, err := Default(pub)
	if err != nil || s.Dedup == nil || len(s.Middlewares()) != 5 {
		t.Fatal(s, err)
	}
	s, err = Default(pub, WithoutDedup(), WithHandlerTimeout(time.Second), WithMaxAttempts(2), WithDedupTTL(time.Hour))
	if err != nil || s.Dedup != nil || len(s.Middlewares()) != 5 {
		t.Fatal(s, err)
	}
}
