package middleware

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// NewCorrelation returns the correlation/causation middleware.
//
// Before the handler it reads the envelope from the message metadata
// (events.EnvelopeFromMetadata) and puts it into the message context
// (events.ContextWithEnvelope), so that publisher.Publish(msg.Context(), …)
// inside the handler chains the ids. A message without an id gets its
// Watermill UUID as id; a message without a correlation id starts a flow: its
// correlation id in the context is its own id. The message metadata itself is
// not modified.
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
		env := events.EnvelopeFromMetadata(msg.Metadata)
		if env.ID == "" {
			env.ID = msg.UUID
		}
		if env.CorrelationID == "" {
			env.CorrelationID = env.ID
		}
		msg.SetContext(events.ContextWithEnvelope(msg.Context(), env))
		out, err := h(msg)
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
