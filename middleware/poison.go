package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/telemetry"
	"github.com/tradebus/tradebus/transport"
)

// Poison is the poison-queue (dead-letter) middleware. When the handler chain
// inside it returns an error — a permanent error, or a transient one the retry
// middleware gave up on — it publishes a copy of the message to the poison
// topic: the original UUID, body and metadata untouched, plus the MetaPoison*
// metadata (reason, class, original routing key, subscription topic, handler,
// consumer group, the subscription's group as the transport knows it —
// Replay sends the event back to that group alone —, attempts, first and
// last failure time, and the stack of a panic). Only when that publish succeeded does it return nil, so the router
// acks the original; when it fails, it returns the handler error joined with an
// error wrapping ErrPoisonPublish, so the router nacks the original and the
// transport redelivers it. Nothing is lost either way.
//
// A failure while the message context is done (router closing, delivery
// cancelled) is not dead-lettered: the error is returned and the message
// nacked, because a shutdown is not the message's fault.
//
// Messages the handler produced on a failed attempt are dropped. A Poison is
// safe for concurrent use; its zero value is not usable (use NewPoison).
type Poison struct {
	cfg       config
	pub       message.Publisher
	topic     string
	published atomic.Uint64
}

// NewPoison returns the poison middleware publishing with pub. Options:
// WithPoisonTopic (default "deadletter.<group>" or "deadletter"),
// WithConsumerGroup, WithPoisonKept (make the broker keep dead letters from
// the start), WithClaimStore, WithLogger.
func NewPoison(pub message.Publisher, opts ...Option) (*Poison, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: nil poison publisher", ErrInvalidOption)
	}
	cfg, err := buildConfig(compPoison, opts)
	if err != nil {
		return nil, err
	}
	return newPoison(pub, cfg)
}

func newPoison(pub message.Publisher, cfg config) (*Poison, error) {
	topic := poisonTopic(cfg) // validated by WithPoisonTopic / WithConsumerGroup
	if cfg.poisonKeep != nil {
		if err := cfg.poisonKeep.SubscribeInitialize(topic); err != nil {
			return nil, fmt.Errorf("middleware: prepare the subscription that keeps %q: %w", topic, err)
		}
	}
	return &Poison{cfg: cfg, pub: pub, topic: topic}, nil
}

func poisonTopic(cfg config) string {
	switch {
	case cfg.poisonTopic != "":
		return cfg.poisonTopic
	case cfg.group != "":
		return DefaultPoisonTopic + "." + cfg.group
	default:
		return DefaultPoisonTopic
	}
}

// Topic returns the routing key poisoned messages are published to.
func (p *Poison) Topic() string { return p.topic }

// Published returns how many messages this middleware has published to the
// poison topic.
func (p *Poison) Published() uint64 { return p.published.Load() }

// Middleware implements message.HandlerMiddleware.
func (p *Poison) Middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		fs, _ := failuresOf(msg)
		ctx := msg.Context()
		out, err := h(msg)
		if err == nil {
			return out, nil
		}
		msg.SetContext(ctx)
		if ctx.Err() != nil {
			return nil, err
		}
		f := fs.get()
		if f.attempts == 0 { // no retry middleware inside: this was the one attempt
			f.fail(time.Now())
		}
		pm := p.poisonMessage(msg, f, err)
		perr := p.pub.Publish(p.topic, pm)
		if errors.Is(perr, transport.ErrTooLarge) {
			// The copy does not fit the broker (checked before sending, so
			// no connection was harmed): a slim dead letter that does, with
			// the original in the claim store.
			pm, perr = p.slim(ctx, msg, pm, perr)
			if perr == nil {
				perr = p.pub.Publish(p.topic, pm)
			}
		}
		if perr != nil {
			p.cfg.logger.ErrorContext(ctx, "tradebus: cannot publish to poison topic, message nacked",
				slog.String("message_uuid", msg.UUID), slog.String("poison_topic", p.topic),
				slog.Any("error", err), slog.Any("publish_error", perr))
			return nil, errors.Join(err, fmt.Errorf("%w %q: %w", ErrPoisonPublish, p.topic, perr))
		}
		p.published.Add(1)
		telemetry.DeadLettered(ctx, p.topic, pm.Metadata.Get(MetaPoisonClass), f.attempts)
		p.cfg.logger.WarnContext(ctx, "tradebus: message sent to poison topic",
			slog.String("message_uuid", msg.UUID), slog.String("poison_topic", p.topic),
			slog.String("class", pm.Metadata.Get(MetaPoisonClass)), slog.Int("attempts", f.attempts),
			slog.Any("error", err))
		return nil, nil
	}
}

func (p *Poison) poisonMessage(msg *message.Message, f *failures, err error) *message.Message {
	pm := msg.Copy()
	ctx := msg.Context()
	// Bounded by the delivery: a publish that cannot complete before
	// shutdown fails and the original is nacked.
	pm.SetContext(ctx)
	key := msg.Metadata.Get(events.MetaRoutingKey)
	topic := message.SubscribeTopicFromCtx(ctx)
	if key == "" && events.ValidateRoutingKey(topic) == nil {
		key = topic
	}
	md := pm.Metadata
	md.Set(MetaPoisonReason, truncate(err.Error(), MaxPoisonReasonBytes))
	md.Set(MetaPoisonClass, string(Classify(err)))
	md.Set(MetaPoisonRoutingKey, key)
	md.Set(MetaPoisonTopic, topic)
	md.Set(MetaPoisonHandler, HandlerName(ctx))
	md.Set(MetaPoisonGroup, p.cfg.group)
	if g := transport.GroupFromContext(ctx); g != "" {
		md.Set(MetaPoisonSubscriberGroup, g)
	}
	// A replayed message that failed again: its dead letter is for the
	// dead-letter reader, whatever group that is.
	delete(md, MetaReplayGroup)
	md.Set(MetaPoisonAttempts, strconv.Itoa(f.attempts))
	md.Set(MetaPoisonFirstFailure, f.first.UTC().Format(time.RFC3339Nano))
	md.Set(MetaPoisonLastFailure, f.last.UTC().Format(time.RFC3339Nano))
	var pe *PanicError
	if errors.As(err, &pe) {
		st := pe.Stack
		if len(st) > maxStackMeta {
			st = st[:maxStackMeta]
		}
		md.Set(MetaPoisonStack, string(st))
	}
	return pm
}

// slimKeys are the envelope attributes a slim dead letter keeps.
var slimKeys = []string{
	events.MetaID, events.MetaSpecVersion, events.MetaType, events.MetaSource, events.MetaSubject,
	events.MetaTime, events.MetaPartitionKey, events.MetaCorrelationID, events.MetaCausationID,
}

// slim returns the dead letter of a message whose full poison copy pm is
// too big for the broker: the bounded envelope attributes and poison
// metadata, no body. With a claim store, the original body and metadata
// are stored there first (MetaPoisonClaim); without, MetaPoisonDropped says
// what was lost.
func (p *Poison) slim(ctx context.Context, msg, pm *message.Message, tooLarge error) (*message.Message, error) {
	sm := message.NewMessage(msg.UUID, nil)
	sm.SetContext(pm.Context())
	for _, k := range slimKeys {
		if v, ok := msg.Metadata[k]; ok {
			sm.Metadata[k] = truncate(v, maxSlimValueBytes)
		}
	}
	for k, v := range pm.Metadata {
		if strings.HasPrefix(k, "tradebus_poison_") {
			sm.Metadata[k] = v // bounded when derived
		}
	}
	if p.cfg.claims != nil {
		if err := p.cfg.claims.PutClaim(ctx, msg.UUID, msg.Payload, msg.Metadata); err != nil {
			return nil, fmt.Errorf("store the too-large dead letter in the claim store: %w", err)
		}
		sm.Metadata[MetaPoisonClaim] = msg.UUID
		return sm, nil
	}
	sm.Metadata[MetaPoisonDropped] = fmt.Sprintf("payload (%d bytes) and metadata dropped: %s; configure middleware.WithClaimStore to keep them",
		len(msg.Payload), truncate(tooLarge.Error(), maxSlimValueBytes))
	p.cfg.logger.ErrorContext(ctx, "tradebus: dead letter too large for the broker and no claim store: body dropped",
		slog.String("message_uuid", msg.UUID), slog.Int("payload_bytes", len(msg.Payload)), slog.Any("error", tooLarge))
	return sm, nil
}

// truncate shortens s to at most n bytes on a UTF-8 boundary, saying how
// much was cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	note := fmt.Sprintf("… [%d bytes cut]", len(s))
	cut := max(0, n-len(note))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + note
}

// Poisoned is the poison metadata of a dead-lettered message, parsed by
// ParsePoisoned.
type Poisoned struct {
	// EventID and Type are the envelope's id and type (metadata "id", or the
	// message UUID when there is none; "type").
	EventID string
	Type    string
	// Reason is the error text, Class its ErrorClass.
	Reason string
	Class  ErrorClass
	// RoutingKey is the original routing key (Replay republishes there).
	RoutingKey string
	// Topic is the subscription topic (pattern) of the failed handler.
	Topic   string
	Handler string
	Group   string
	// SubscriberGroup is the consumer group of the subscription the
	// message failed in ("" if unknown); Replay delivers to it alone.
	SubscriberGroup string
	// Attempts is the number of handler attempts (0 if unknown).
	Attempts     int
	FirstFailure time.Time
	LastFailure  time.Time
	// Stack is the panic stack for ClassPanic.
	Stack string
	// Claim is the claim-store id of a dead letter whose original was too
	// big for the broker ("" for an ordinary one); Dropped says what was
	// dropped when there was no claim store.
	Claim   string
	Dropped string
	// Message is the poisoned message itself.
	Message *message.Message
}

// ParsePoisoned reads the poison metadata of msg. It returns an error wrapping
// ErrNotPoisoned when msg was not published by the poison middleware.
func ParsePoisoned(msg *message.Message) (Poisoned, error) {
	md := msg.Metadata
	class := md.Get(MetaPoisonClass)
	if class == "" {
		return Poisoned{Message: msg}, fmt.Errorf("%w: message %s has no %q metadata", ErrNotPoisoned, msg.UUID, MetaPoisonClass)
	}
	p := Poisoned{
		EventID:         md.Get(events.MetaID),
		Type:            md.Get(events.MetaType),
		Reason:          md.Get(MetaPoisonReason),
		Class:           ErrorClass(class),
		RoutingKey:      md.Get(MetaPoisonRoutingKey),
		Topic:           md.Get(MetaPoisonTopic),
		Handler:         md.Get(MetaPoisonHandler),
		Group:           md.Get(MetaPoisonGroup),
		SubscriberGroup: md.Get(MetaPoisonSubscriberGroup),
		Stack:           md.Get(MetaPoisonStack),
		Claim:           md.Get(MetaPoisonClaim),
		Dropped:         md.Get(MetaPoisonDropped),
		Message:         msg,
	}
	if p.EventID == "" {
		p.EventID = msg.UUID
	}
	p.Attempts, _ = strconv.Atoi(md.Get(MetaPoisonAttempts))
	p.FirstFailure, _ = time.Parse(time.RFC3339Nano, md.Get(MetaPoisonFirstFailure))
	p.LastFailure, _ = time.Parse(time.RFC3339Nano, md.Get(MetaPoisonLastFailure))
	return p, nil
}
