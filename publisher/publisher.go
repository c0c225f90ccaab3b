package publisher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// ErrInvalidOption is wrapped by every error New returns for a bad option.
var ErrInvalidOption = errors.New("publisher: invalid option")

// ErrInvalidEvent is wrapped by the error Publish returns when an event
// fails validation or encoding. Nothing of that call was sent.
var ErrInvalidEvent = errors.New("publisher: invalid event")

// EventError names the event (by position and type) that could not be
// published, and why.
type EventError struct {
	Index int    // position in the Publish call
	Type  string // versioned type name, e.g. tradebus.trade.v1
	Err   error  // validation or encoding error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("publisher: event %d (%s): %v", e.Index, e.Type, e.Err)
}

// Unwrap returns ErrInvalidEvent and the underlying cause.
func (e *EventError) Unwrap() []error { return []error{ErrInvalidEvent, e.Err} }

// Option configures a Publisher.
type Option func(*Publisher) error

// WithSource sets the CloudEvents source attribute of every event.
// Default: "/tradebus/<program name>".
func WithSource(source string) Option {
	return func(p *Publisher) error {
		if source == "" {
			return fmt.Errorf("%w: empty source", ErrInvalidOption)
		}
		p.source = source
		return nil
	}
}

// WithClock sets the clock used when an event has no occurrence time of its
// own (never, for the built-in types, which all require one). Default:
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(p *Publisher) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		p.now = now
		return nil
	}
}

// WithRetry makes Publish send again what the transport failed to store —
// the same messages with the same event ids, so a downstream dedup absorbs
// any that had been stored after all — up to attempts times in all, waiting
// initial, doubling to max, between attempts, always within the call's
// ctx. Errors that a resend cannot fix (too large, invalid, transport
// closed) are returned at once. attempts 1 to 100, 0 < initial <= max <=
// 1m. Default: no retry (attempts 1). For a gateway riding out a broker
// restart.
func WithRetry(attempts int, initial, max time.Duration) Option {
	return func(p *Publisher) error {
		if attempts < 1 || attempts > 100 || initial <= 0 || max < initial || max > time.Minute {
			return fmt.Errorf("%w: retry %d attempts, backoff %s to %s: want 1 to 100 attempts, 0 < initial <= max <= 1m",
				ErrInvalidOption, attempts, initial, max)
		}
		p.retry = retryConfig{attempts: attempts, initial: initial, maxBackoff: max}
		return nil
	}
}

// Publisher publishes typed events on a Watermill message.Publisher whose
// topic is the routing key (every tradebus transport). It is safe for
// concurrent use; its zero value is not usable (call New).
type Publisher struct {
	pub    message.Publisher
	source string
	now    func() time.Time
	retry  retryConfig
}

// retryConfig is WithRetry's; attempts 1 = no retry.
type retryConfig struct {
	attempts   int
	initial    time.Duration
	maxBackoff time.Duration
}

// New returns a Publisher writing to pub.
func New(pub message.Publisher, opts ...Option) (*Publisher, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: nil message.Publisher", ErrInvalidOption)
	}
	p := &Publisher{
		pub:    pub,
		source: "/tradebus/" + filepath.Base(os.Args[0]),
		now:    time.Now,
		retry:  retryConfig{attempts: 1},
	}
	for _, opt := range opts {
		if err := opt(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Publish validates and encodes every event, then publishes them in order,
// each to its routing key. If any event is invalid, it returns an
// *EventError (wrapping ErrInvalidEvent) and sends nothing. Correlation
// and causation ids come from the envelope in ctx (see
// events.ContextWithEnvelope), so events published inside a handler chain
// to the event being handled. On a tradebus transport the whole call is
// sent as one pipelined batch across routing keys (every message in
// flight at once; events of one partition key keep their order), and
// Publish returns when the broker has confirmed every message, or with an
// error; after a transport error some messages may have been stored.
func (p *Publisher) Publish(ctx context.Context, evs ...events.Event) error {
	ids := newIDGen(len(evs))
	if ms, ok := p.pub.(messageSender); ok {
		buf := getSendBuf(len(evs))
		defer putSendBuf(buf)
		dms := buf.dms
		// The metadata maps of the previous calls are reused when the
		// transport keeps none of them once SendMessages returned.
		reuse := false
		if mr, ok := ms.(metadataReleaser); ok {
			reuse = mr.ReleasesMetadata()
		}
		for i, ev := range evs {
			var md message.Metadata
			if reuse && i < len(buf.mds) {
				md = buf.mds[i]
			}
			if err := p.outgoing(ctx, ev, ids, md, &dms[i]); err != nil {
				return &EventError{Index: i, Type: typeName(ev), Err: err}
			}
			if reuse && i == len(buf.mds) && i < maxPooledMetadata {
				buf.mds = append(buf.mds, dms[i].Metadata)
			}
		}
		return p.retrying(ctx, func() error {
			err := ms.SendMessages(ctx, dms)
			var se *driver.SendError
			if errors.As(err, &se) && len(se.Failed) < len(dms) {
				// The others are stored: send again only what failed,
				// in its order.
				failed := make([]driver.Message, 0, len(se.Failed))
				for i := range dms {
					if _, bad := se.Failed[i]; bad {
						failed = append(failed, dms[i])
					}
				}
				dms = failed
			}
			if err != nil {
				return fmt.Errorf("publisher: publish %d events: %w", len(dms), err)
			}
			return nil
		})
	}
	msgs := make([]*message.Message, len(evs))
	for i, ev := range evs {
		msg, err := p.message(ctx, ev, ids)
		if err != nil {
			return &EventError{Index: i, Type: typeName(ev), Err: err}
		}
		msgs[i] = msg
	}
	return p.retrying(ctx, func() error { return p.publishMessages(ctx, msgs) })
}

// retrying runs send up to the WithRetry attempts, with backoff, while its
// error may be fixed by sending again and ctx is not done.
func (p *Publisher) retrying(ctx context.Context, send func() error) error {
	wait := p.retry.initial
	for attempt := 1; ; attempt++ {
		err := send()
		if err == nil || attempt >= p.retry.attempts || ctx.Err() != nil || !resendable(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		}
		wait = min(2*wait, p.retry.maxBackoff)
	}
}

// resendable reports whether sending the same messages again may succeed.
// A context error inside err is the driver's own timeout (waiting for a
// connection or a confirm) when the caller's ctx is still alive, which
// retrying checks first: that one is resendable.
func resendable(err error) bool {
	switch {
	case errors.Is(err, transport.ErrTooLarge), errors.Is(err, transport.ErrInvalidOption),
		errors.Is(err, transport.ErrClosed), errors.Is(err, events.ErrInvalidRoutingKey):
		return false
	}
	return true
}

// maxPooledMessages bounds the calls whose driver messages are reused.
const maxPooledMessages = 4096

// maxPooledMetadata bounds the metadata maps a sendBuf keeps for reuse
// (about 700 bytes each).
const maxPooledMetadata = 1024

var sendBufs sync.Pool // *sendBuf

// sendBuf is what a Publish call on a tradebus transport needs besides
// the events: the driver messages and, when the transport releases them
// (metadataReleaser), the metadata maps of earlier calls, empty, to fill
// again (mds[i] for the i-th event).
type sendBuf struct {
	dms []driver.Message
	mds []message.Metadata
}

// getSendBuf returns a buffer with n zero driver messages: those of an
// earlier call when one is free. A transport keeps none of them once
// SendMessages returned (driver.Message), so Publish can give them back
// afterwards; for a batch of 256 this saves 38 KB of fresh memory per
// call.
func getSendBuf(n int) *sendBuf {
	buf, _ := sendBufs.Get().(*sendBuf)
	if buf == nil {
		buf = new(sendBuf)
	}
	if cap(buf.dms) < n {
		buf.dms = make([]driver.Message, n)
	}
	buf.dms = buf.dms[:n]
	return buf
}

func putSendBuf(buf *sendBuf) {
	if cap(buf.dms) > maxPooledMessages {
		return
	}
	clear(buf.dms) // drop the payloads and metadata maps
	for _, md := range buf.mds {
		clear(md) // drop the values; the map keeps its room
	}
	sendBufs.Put(buf)
}

// metadataReleaser is implemented by a messageSender that keeps none of
// the metadata maps once SendMessages returned
// (*transport.Publisher.ReleasesMetadata).
type metadataReleaser interface {
	ReleasesMetadata() bool
}

// messageSender is what a tradebus transport's publisher offers to send
// messages built without a Watermill message around them
// (*transport.Publisher has it): one pipelined batch, four allocations per
// event fewer.
type messageSender interface {
	SendMessages(ctx context.Context, msgs []driver.Message) error
}

// publishMessages sends msgs, each to its routing key: on a tradebus
// transport in one pipelined batch, on a plain Watermill publisher in runs
// of consecutive messages with one routing key, keeping their order.
func (p *Publisher) publishMessages(ctx context.Context, msgs []*message.Message) error {
	if bp, ok := p.pub.(batchPublisher); ok {
		if err := bp.PublishBatch(ctx, msgs); err != nil {
			return fmt.Errorf("publisher: publish %d events: %w", len(msgs), err)
		}
		return nil
	}
	for start := 0; start < len(msgs); {
		key := msgs[start].Metadata[events.MetaRoutingKey]
		end := start + 1
		for end < len(msgs) && msgs[end].Metadata[events.MetaRoutingKey] == key {
			end++
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.pub.Publish(key, msgs[start:end]...); err != nil {
			return fmt.Errorf("publisher: publish to %q: %w", key, err)
		}
		start = end
	}
	return nil
}

// batchPublisher is transport.BatchPublisher (every tradebus transport's
// publisher), declared here so that this package does not depend on
// package transport.
type batchPublisher interface {
	PublishBatch(ctx context.Context, msgs []*message.Message) error
}

// NewMessage builds the Watermill message Publish would send for ev, for
// Watermill handlers that return produced messages. The Watermill topic to
// publish it to is msg.Metadata[events.MetaRoutingKey].
func (p *Publisher) NewMessage(ctx context.Context, ev events.Event) (*message.Message, error) {
	msg, err := p.message(ctx, ev, newIDGen(1))
	if err != nil {
		return nil, &EventError{Type: typeName(ev), Err: err}
	}
	return msg, nil
}

func (p *Publisher) message(ctx context.Context, ev events.Event, ids *idGen) (*message.Message, error) {
	var dm driver.Message
	if err := p.outgoing(ctx, ev, ids, nil, &dm); err != nil {
		return nil, err
	}
	msg := message.NewMessage(dm.UUID, dm.Payload)
	msg.Metadata = dm.Metadata
	msg.SetContext(ctx)
	return msg, nil
}

// newIDGen returns the id source of a call publishing n events.
func newIDGen(n int) *idGen {
	g := new(idGen)
	g.reserve(n)
	return g
}

// outgoing validates and encodes ev and fills dm with it: id (the next of
// ids), routing and partition key, envelope metadata and payload. The
// metadata goes into md when it is not nil (an empty map to reuse), into
// a new map otherwise.
func (p *Publisher) outgoing(ctx context.Context, ev events.Event, ids *idGen, md message.Metadata, dm *driver.Message) error {
	if ev == nil {
		return errors.New("nil event")
	}
	payload, err := events.Marshal(ev) // validates
	if err != nil {
		return err
	}
	id, err := ids.id()
	if err != nil {
		return fmt.Errorf("new event id: %w", err)
	}
	occurred := ev.OccurredAt()
	if occurred.IsZero() {
		occurred = p.now()
	}
	// The id, the time and the routing key share one string (one
	// allocation, not three).
	var buf [128]byte
	b := occurred.UTC().AppendFormat(appendUUID(buf[:0], id), time.RFC3339Nano)
	nTime := len(b)
	s := string(events.AppendRoutingKey(b, ev))
	idStr, timeStr, key := s[:36], s[36:nTime], s[nTime:]
	if err := events.ValidateRoutingKey(key); err != nil {
		return err
	}
	if md == nil {
		// Sized for every attribute below, so filling it never grows it.
		md = make(message.Metadata, 12)
	}
	partitionKey := ev.PartitionKey()
	md[events.MetaID] = idStr
	md[events.MetaSpecVersion] = events.SpecVersion
	md[events.MetaType] = ev.EventType()
	md[events.MetaSource] = p.source
	md[events.MetaSubject] = partitionKey
	md[events.MetaTime] = timeStr
	md[events.MetaDataContentType] = events.ContentTypeJSON
	md[events.MetaPartitionKey] = partitionKey
	md[events.MetaRoutingKey] = key
	if parent, ok := events.EnvelopeFromContext(ctx); ok && parent.ID != "" {
		md[events.MetaCorrelationID], md[events.MetaCausationID] = parent.Chain()
		if parent.TraceParent != "" {
			md[events.MetaTraceParent] = parent.TraceParent
		}
	} else {
		md[events.MetaCorrelationID] = idStr
	}
	*dm = driver.Message{UUID: idStr, Key: key, PartitionKey: partitionKey, Metadata: md, Payload: payload}
	return nil
}

// appendUUID appends id in its canonical text form (what id.String
// returns) to dst.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return dst
}
