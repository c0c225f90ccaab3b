package tradebustest

import (
	"errors"
	"reflect"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
)

// Published returns the events of type T published through the harness
// (Publish, Publisher, MessagePublisher — also from handlers), in publish
// order. Dead letters and requeued copies are not events published anew
// and are left out (see DeadLettered).
func Published[T events.Event](h *Harness) []T {
	typ := typeName[T]()
	h.mu.Lock()
	recs := append([]record(nil), h.published...)
	h.mu.Unlock()
	var out []T
	for _, r := range recs {
		if r.eventType() != typ || r.md[middleware.MetaPoisonClass] != "" || r.md[middleware.MetaRetryRequeues] != "" {
			continue
		}
		if ev, ok := decode[T](h, r); ok {
			out = append(out, ev)
		}
	}
	return out
}

// Consumed returns the events of type T that group's handlers handled
// successfully, in the order they finished (an event handled twice, e.g.
// redelivered after a failure elsewhere in the chain, appears twice).
func Consumed[T events.Event](h *Harness, group string) []T {
	var out []T
	for _, r := range attemptsOf[T](h, group) {
		if r.err == nil {
			if ev, ok := decode[T](h, r); ok {
				out = append(out, ev)
			}
		}
	}
	return out
}

// Retried returns the events of type T whose handler in group failed and
// ran again (a retry or a redelivery), once each, in the order of their
// first attempt — whether they were consumed in the end or dead-lettered.
func Retried[T events.Event](h *Harness, group string) []T {
	recs := attemptsOf[T](h, group)
	count := map[string]int{}
	for _, r := range recs {
		count[r.uuid]++
	}
	var out []T
	for _, r := range recs {
		if count[r.uuid] > 1 {
			count[r.uuid] = 0 // once
			if ev, ok := decode[T](h, r); ok {
				out = append(out, ev)
			}
		}
	}
	return out
}

// DeadLetter is one dead letter: the event and the poison metadata the
// stack added (Reason, Class, Attempts, Handler, RoutingKey, ...).
type DeadLetter[T events.Event] struct {
	// Event is the dead-lettered event; its zero value when the body does
	// not decode as T (the failure that dead-lettered it, then: see Reason).
	Event T
	middleware.Poisoned
}

// DeadLettered returns the messages of type T that group's stack sent to
// its poison topic, in order.
func DeadLettered[T events.Event](h *Harness, group string) []DeadLetter[T] {
	if h.lookupGroup(group) == nil {
		return nil
	}
	typ := typeName[T]()
	h.mu.Lock()
	recs := append([]record(nil), h.published...)
	h.mu.Unlock()
	var out []DeadLetter[T]
	for _, r := range recs {
		if r.md[middleware.MetaPoisonClass] == "" || r.md[middleware.MetaPoisonGroup] != group || r.eventType() != typ {
			continue
		}
		msg := message.NewMessage(r.uuid, r.payload)
		msg.Metadata = copyMetadata(r.md)
		p, err := middleware.ParsePoisoned(msg)
		if err != nil {
			h.t.Errorf("tradebustest: dead letter %s: %v", r.uuid, err)
			continue
		}
		ev, _ := events.Unmarshal[T](r.payload)
		out = append(out, DeadLetter[T]{Event: ev, Poisoned: p})
	}
	return out
}

// DuplicatesSkipped returns how many messages group's dedup middleware
// acked without running a handler, because their event id had been
// handled already.
func (h *Harness) DuplicatesSkipped(group string) int {
	g := h.lookupGroup(group)
	if g == nil || g.stack.Dedup == nil {
		return 0
	}
	return int(g.stack.Dedup.Stats().Duplicates)
}

// Attempts returns how many times group's handlers ran (successes,
// failures and panics), all event types together.
func (h *Harness) Attempts(group string) int {
	g := h.lookupGroup(group)
	if g == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(g.attempts)
}

// attemptsOf returns group's handler attempts on events of type T.
func attemptsOf[T events.Event](h *Harness, group string) []record {
	g := h.lookupGroup(group)
	if g == nil {
		return nil
	}
	typ := typeName[T]()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []record
	for _, r := range g.attempts {
		if r.eventType() == typ || (r.eventType() != "" && upcastsTo[T](r)) {
			out = append(out, r)
		}
	}
	return out
}

// upcastsTo reports whether r, of another type, is read as T through
// registered upcasts (events.RegisterUpcast).
func upcastsTo[T events.Event](r record) bool {
	_, err := events.UnmarshalAs[T](r.eventType(), r.payload)
	return !errors.Is(err, events.ErrNoUpcast)
}

// decode decodes r's body as T, reporting a failure to the test.
func decode[T events.Event](h *Harness, r record) (T, bool) {
	ev, err := events.UnmarshalAs[T](r.eventType(), r.payload)
	if err != nil {
		h.t.Errorf("tradebustest: message %s (%s): %v", r.uuid, r.key, err)
		return ev, false
	}
	return ev, true
}

// typeName returns T's event type name, also for a pointer type.
func typeName[T events.Event]() string {
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Pointer {
		if e, ok := reflect.New(t.Elem()).Interface().(events.Event); ok {
			return e.EventType()
		}
	}
	var zero T
	return zero.EventType()
}
