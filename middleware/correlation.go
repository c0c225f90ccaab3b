package middleware

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// NewCorrelation returns the correlation/causation middleware.
//
// Before the handler it puts the envelope of the message metadata into the
// message context (events.ContextWithDelivery: read out of the metadata the
// first time it is asked for), so that publisher.Publish(msg.Context(), …)
// inside the handler chains the ids. A message without an id gets its
// Watermill UUID as id; a message without a correlation id starts a flow: its
// correlation id in the context is its own id. The message metadata itself is
// not modified (and should not be by the handler: the envelope may be read
// from it later).
//
// After the handler, every message the handler returned (for the router to
// publish) without an "id" gets its UUID as id, and without "correlationid" /
// "causationid" gets the incoming correlation id / the incoming id. Ids the
// handler set explicitly are kept.
//
// Options: WithLogger (unused; accepted for symmetry). Safe for concurrent use.
func NewCorrelation(opts ...Option) (message.HandlerMiddleware, error) {
	if _, err := buildConfig(compCorrelation, opts); err != nil {
		return nil, err
	}
	return correlation, nil
}

func correlation(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		// The envelope is read out of the metadata when first asked for
		// (by the handler, a log line, or below for produced messages):
		// most handlers never ask.
		ctx := events.ContextWithDelivery(msg.Context(), msg.Metadata, msg.UUID)
		msg.SetContext(ctx)
		out, err := h(msg)
		if len(out) == 0 {
			return out, err
		}
		env, _ := events.EnvelopeFromContext(ctx)
		corr, cause := env.Chain()
		for _, m := range out {
			if m.Metadata.Get(events.MetaID) == "" {
				m.Metadata.Set(events.MetaID, m.UUID)
			}
			if m.Metadata.Get(events.MetaCorrelationID) == "" {
				m.Metadata.Set(events.MetaCorrelationID, corr)
			}
			if m.Metadata.Get(events.MetaCausationID) == "" {
				m.Metadata.Set(events.MetaCausationID, cause)
			}
		}
		return out, err
	}
}
