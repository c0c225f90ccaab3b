package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/events"
)

// errInjected is the transient failure -chaos injects into handlers.
var errInjected = errors.New("chaos: injected handler failure")

// chaosEvery spreads the injected handler failures: every chaosEvery-th
// event to reach a handler fails its first attempt, until n have failed.
const chaosEvery = 37

// chaos injects what a real deployment meets, so that a run shows the
// reliability stack at work: handler failures (the retry middleware runs
// the handler again), duplicate publishes (dedup skips the second copy) and
// malformed events (decoding fails, the poison middleware dead-letters
// them). None of it changes what the system computes.
type chaos struct {
	n int

	mu       sync.Mutex
	failed   map[string]bool // event ids that failed once
	arrivals int

	failures, duplicates, malformed atomic.Int64
}

func newChaos(n int) *chaos { return &chaos{n: n, failed: map[string]bool{}} }

// fail returns errInjected for the first attempt of every chaosEvery-th
// event reaching a handler, n times in all. It runs before the handler
// touches any state.
func (c *chaos) fail(ctx context.Context) error {
	if c.n == 0 {
		return nil
	}
	env, ok := events.EnvelopeFromContext(ctx)
	if !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed[env.ID] || int(c.failures.Load()) >= c.n {
		return nil // a retry, or enough injected
	}
	c.arrivals++
	if c.arrivals%chaosEvery != 0 {
		return nil
	}
	c.failed[env.ID] = true
	c.failures.Add(1)
	return errInjected
}

// chaosTick reports whether tick gets a duplicate and a malformed event:
// n ticks spread over the run.
func (c *chaos) chaosTick(tick, ticks int) bool {
	if c.n == 0 {
		return false
	}
	step := ticks / c.n
	return tick%step == step/2 && tick/step < c.n
}

var decimalField = regexp.MustCompile(`"(last|price)":"[^"]*"`)

// publishWithChaos publishes one tick's events with event i sent twice
// (same event id: a duplicate) and a malformed copy of event i (a decimal
// written with a comma, as a misconfigured gateway might) after them.
func (s *system) publishWithChaos(ctx context.Context, evs []events.Event, i int64) error {
	msgs := make([]*message.Message, 0, len(evs)+2)
	for j, ev := range evs {
		j := int64(j)
		m, err := s.pub.NewMessage(ctx, ev)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
		if j == i {
			msgs = append(msgs, m.Copy())
		}
	}
	bad := msgs[i].Copy()
	bad.UUID = uuid.Must(uuid.NewV7()).String()
	bad.Metadata.Set(events.MetaID, bad.UUID)
	bad.Metadata.Set(events.MetaCorrelationID, bad.UUID)
	bad.Payload = decimalField.ReplaceAll(bad.Payload, []byte(`"$1":"60 012,5"`))
	if string(bad.Payload) == string(msgs[i].Payload) {
		return fmt.Errorf("chaos: no decimal to spoil in %s", msgs[i].Payload)
	}
	msgs = append(msgs, bad)
	bp, ok := s.raw.(interface {
		PublishBatch(context.Context, []*message.Message) error
	})
	if !ok {
		return errors.New("chaos: the transport's publisher has no PublishBatch")
	}
	if err := bp.PublishBatch(ctx, msgs); err != nil {
		return err
	}
	s.chaos.duplicates.Add(1)
	s.chaos.malformed.Add(1)
	return nil
}
