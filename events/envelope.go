package events

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradebus/tradebus/internal/msgctx"
)

// Envelope metadata keys. They are CloudEvents 1.0 attribute names (plus
// lowercase extension attributes) so that non-Go consumers can read them.
// On every transport they travel as broker headers; on Kafka they are
// prefixed with "ce_" per the CloudEvents Kafka binary binding.
const (
	MetaID              = "id"
	MetaSource          = "source"
	MetaSpecVersion     = "specversion"
	MetaType            = "type"
	MetaSubject         = "subject"
	MetaTime            = "time"
	MetaDataContentType = "datacontenttype"
	MetaCorrelationID   = "correlationid"
	MetaCausationID     = "causationid"
	MetaTraceParent     = "traceparent"
	MetaPartitionKey    = "partitionkey"
	MetaSequence        = "sequence"
	// MetaRoutingKey carries the full routing key, so that subscribers know
	// it even on transports where the broker only knew the kind.
	MetaRoutingKey = "routingkey"
	// MetaReplyTo is the routing key a request's reply goes to (package
	// rpc); MetaDeadline is the RFC 3339 time after which the caller no
	// longer waits for it.
	MetaReplyTo  = "replyto"
	MetaDeadline = "deadline"
)

// SpecVersion is the CloudEvents spec version written into MetaSpecVersion.
const SpecVersion = "1.0"

// ContentTypeJSON is the datacontenttype of tradebus' JSON codec.
const ContentTypeJSON = "application/json"

// Envelope is the decoded envelope (metadata) of one event. The zero value
// means "no envelope".
type Envelope struct {
	ID            string
	Source        string
	Type          string
	Subject       string
	Time          time.Time
	CorrelationID string
	CausationID   string
	TraceParent   string
	PartitionKey  string
	RoutingKey    string
	Sequence      string
	// ReplyTo and Deadline are set on requests (package rpc).
	ReplyTo  string
	Deadline time.Time
}

// envelopeKey is the context key of an envelopeCtx: a msgctx.Key, so
// that the context a transport consumer shares between messages answers
// a lookup at once (the envelope is always set per message).
const envelopeKey = msgctx.Envelope

// envelopeCtx is a context carrying an Envelope. It is context.WithValue
// in one allocation instead of two (the value is not boxed separately):
// every handled event gets one. Made by ContextWithMetadata it holds the
// metadata and reads the envelope out of it the first time it is asked
// for: a handler that never looks at its envelope (and publishes
// nothing) does not pay for parsing it.
type envelopeCtx struct {
	context.Context
	md     map[string]string // ContextWithMetadata: read into env on first use
	uuid   string            // ContextWithDelivery: the id of an envelope without one
	flow   bool              // ContextWithDelivery: fill in missing ids
	parsed atomic.Bool
	mu     sync.Mutex
	env    Envelope
}

// envelope returns c's envelope, reading it out of c.md the first time.
func (c *envelopeCtx) envelope() Envelope {
	if c.md != nil && !c.parsed.Load() {
		c.mu.Lock()
		if !c.parsed.Load() {
			c.env = EnvelopeFromMetadata(c.md)
			if c.flow {
				if c.env.ID == "" {
					c.env.ID = c.uuid
				}
				if c.env.CorrelationID == "" {
					c.env.CorrelationID = c.env.ID
				}
			}
			c.parsed.Store(true)
		}
		c.mu.Unlock()
	}
	return c.env
}

func (c *envelopeCtx) Value(key any) any {
	if key == envelopeKey {
		return c
	}
	return c.Context.Value(key)
}

func (c *envelopeCtx) String() string {
	return fmt.Sprintf("%v.WithEnvelope(%s)", c.Context, c.envelope().ID)
}

// ContextWithEnvelope returns a copy of ctx carrying env. Publishing with
// the returned ctx inherits env's correlation id and sets causation id =
// env.ID.
func ContextWithEnvelope(ctx context.Context, env Envelope) context.Context {
	if ctx == nil {
		panic("events: ContextWithEnvelope with a nil context")
	}
	return &envelopeCtx{Context: ctx, env: env}
}

// ContextWithMetadata returns a copy of ctx carrying the envelope of
// metadata md (EnvelopeFromMetadata), read out of md the first time
// EnvelopeFromContext asks for it — so md must not change afterwards. It
// is what a handler's context carries.
func ContextWithMetadata(ctx context.Context, md map[string]string) context.Context {
	if ctx == nil {
		panic("events: ContextWithMetadata with a nil context")
	}
	if md == nil {
		md = map[string]string{}
	}
	return &envelopeCtx{Context: ctx, md: md}
}

// ContextWithDelivery is ContextWithMetadata for a delivered message
// whose metadata may lack the ids: an envelope without an id takes uuid
// (the message's own, e.g. its Watermill UUID), and one without a
// correlation id starts a flow — its correlation id is its own id. Like
// ContextWithMetadata's, the envelope is read out of md the first time it
// is asked for, so md must not change afterwards.
func ContextWithDelivery(ctx context.Context, md map[string]string, uuid string) context.Context {
	if ctx == nil {
		panic("events: ContextWithDelivery with a nil context")
	}
	if md == nil {
		md = map[string]string{}
	}
	return &envelopeCtx{Context: ctx, md: md, uuid: uuid, flow: true}
}

// EnvelopeFromContext returns the envelope stored by ContextWithEnvelope,
// ContextWithMetadata or ContextWithDelivery.
func EnvelopeFromContext(ctx context.Context) (Envelope, bool) {
	if c, ok := ctx.Value(envelopeKey).(*envelopeCtx); ok {
		return c.envelope(), true
	}
	return Envelope{}, false
}

// HasEnvelope reports whether ctx carries an envelope (EnvelopeFromContext
// would find one) without reading it out of its metadata.
func HasEnvelope(ctx context.Context) bool {
	_, ok := ctx.Value(envelopeKey).(*envelopeCtx)
	return ok
}

// EnvelopeFromMetadata reads an Envelope out of Watermill-style metadata.
// A missing or malformed time yields the zero time.
func EnvelopeFromMetadata(md map[string]string) Envelope {
	var env Envelope
	var ts, deadline string
	if len(md) <= envelopeScanMax {
		// One pass over a small map instead of a lookup per attribute
		// (most of which are absent): every delivered event pays this.
		for k, v := range md {
			switch k {
			case MetaID:
				env.ID = v
			case MetaSource:
				env.Source = v
			case MetaType:
				env.Type = v
			case MetaSubject:
				env.Subject = v
			case MetaCorrelationID:
				env.CorrelationID = v
			case MetaCausationID:
				env.CausationID = v
			case MetaTraceParent:
				env.TraceParent = v
			case MetaPartitionKey:
				env.PartitionKey = v
			case MetaRoutingKey:
				env.RoutingKey = v
			case MetaSequence:
				env.Sequence = v
			case MetaTime:
				ts = v
			case MetaReplyTo:
				env.ReplyTo = v
			case MetaDeadline:
				deadline = v
			}
		}
	} else {
		env = Envelope{
			ID:            md[MetaID],
			Source:        md[MetaSource],
			Type:          md[MetaType],
			Subject:       md[MetaSubject],
			CorrelationID: md[MetaCorrelationID],
			CausationID:   md[MetaCausationID],
			TraceParent:   md[MetaTraceParent],
			PartitionKey:  md[MetaPartitionKey],
			RoutingKey:    md[MetaRoutingKey],
			Sequence:      md[MetaSequence],
			ReplyTo:       md[MetaReplyTo],
		}
		ts, deadline = md[MetaTime], md[MetaDeadline]
	}
	if ts != "" {
		env.Time = parseEnvelopeTime(ts)
	}
	if env.ReplyTo != "" {
		env.Deadline = parseEnvelopeTime(deadline)
	}
	return env
}

// envelopeScanMax is the largest metadata EnvelopeFromMetadata reads in
// one pass; a bigger map is cheaper to look attributes up in.
const envelopeScanMax = 24

// parseEnvelopeTime parses an RFC 3339 time, the zero time if it is
// malformed; the common UTC form without time.Parse.
func parseEnvelopeTime(s string) time.Time {
	if t, ok := parseUTCTime(s); ok {
		return t
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Chain returns the correlation and causation ids for an event published
// while handling parent: correlation is inherited (a parent without one
// starts a flow with its own id), causation is the parent's id.
func (parent Envelope) Chain() (correlationID, causationID string) {
	correlationID = parent.CorrelationID
	if correlationID == "" {
		correlationID = parent.ID
	}
	return correlationID, parent.ID
}
