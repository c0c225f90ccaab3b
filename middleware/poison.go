package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// Poison is the poison-queue (dead-letter) middleware. When the handler chain
// inside it returns an error — a permanent error, or a transient one the retry
// middleware gave up on — it publishes a copy of the message to the poison
// topic: the original UUID, body and metadata untouched, plus the MetaPoison*
// metadata (reason, class, original routing key, subscription topic, handler,
// consumer group, attempts, first and last failure time, and the stack of a
// panic). Only when that publish succeeded does it return nil, so the router
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
// WithConsumerGroup, WithLogger.
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
		f, _ := failuresOf(msg)
		ctx := msg.Context()
		out, err := h(msg)
		if err == nil {
			return out, nil
		}
		msg.SetContext(ctx)
		if ctx.Err() != nil {
			return nil, err
		}
		if f.attempts == 0 { // no retry middleware inside: this was the one attempt
			f.fail(time.Now())
		}
		pm := p.poisonMessage(msg, f, err)
		if perr := p.pub.Publish(p.topic, pm); perr != nil {
			p.cfg.logger.ErrorContext(ctx, "tradebus: cannot publish to poison topic, message nacked",
				slog.String("message_uuid", msg.UUID), slog.String("poison_topic", p.topic),
				slog.Any("error", err), slog.Any("publish_error", perr))
			return nil, errors.Join(err, fmt.Errorf("%w %q: %w", ErrPoisonPublish, p.topic, perr))
		}
		p.published.Add(1)
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
	md.Set(MetaPoisonReason, err.Error())
	md.Set(MetaPoisonClass, string(Classify(err)))
	md.Set(MetaPoisonRoutingKey, key)
	md.Set(MetaPoisonTopic, topic)
	md.Set(MetaPoisonHandler, message.HandlerNameFromCtx(ctx))
	md.Set(MetaPoisonGroup, p.cfg.group)
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
	// Attempts is the number of handler attempts (0 if unknown).
	Attempts     int
	FirstFailure time.Time
	LastFailure  time.Time
	// Stack is the panic stack for ClassPanic.
	Stack string
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
		EventID:    md.Get(events.MetaID),
		Type:       md.Get(events.MetaType),
		Reason:     md.Get(MetaPoisonReason),
		Class:      ErrorClass(class),
		RoutingKey: md.Get(MetaPoisonRoutingKey),
		Topic:      md.Get(MetaPoisonTopic),
		Handler:    md.Get(MetaPoisonHandler),
		Group:      md.Get(MetaPoisonGroup),
		Stack:      md.Get(MetaPoisonStack),
		Message:    msg,
	}
	if p.EventID == "" {
		p.EventID = msg.UUID
	}
	p.Attempts, _ = strconv.Atoi(md.Get(MetaPoisonAttempts))
	p.FirstFailure, _ = time.Parse(time.RFC3339Nano, md.Get(MetaPoisonFirstFailure))
	p.LastFailure, _ = time.Parse(time.RFC3339Nano, md.Get(MetaPoisonLastFailure))
	return p, nil
}
