// Package rpc is typed request-reply over any tradebus transport: a caller
// sends a request event and gets the reply event back (or a timeout, or a
// typed remote error), correlated by the request's event id; the server side
// is an ordinary typed handler, so the middleware stack (correlation,
// poison queue, retry, dedup) applies to it.
//
// How it travels, the same on every transport: a Client subscribes, as its
// own consumer group "rpc-<id>", to its reply routing key "reply.<id>".
// Call publishes the request to "req.<service>.<the event's routing key>"
// (RequestKey; servers subscribe with Pattern) with two envelope
// attributes, replyto (the reply key) and deadline (ctx's deadline).
// The server's handler (Handler) skips a request whose deadline has passed,
// runs its function with the caller's deadline, and publishes the reply to
// replyto with causationid = the request's id. The client hands each reply
// to the call waiting for that id; a reply nobody waits for any more (the
// caller gave up, or a redelivered request answered twice) is dropped and
// counted (Client.Late), never given to another call.
//
// Failure semantics: a server that crashes mid-request leaves the request
// to be redelivered to another member of its group (at least once); it
// answers if the deadline has not passed, else the caller times out. A
// caller never gets a reply to another request.
package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
)

// TypeError is the CloudEvents type of an error reply.
const TypeError = "tradebus.rpc.error.v1"

// Routing-key kinds of requests and replies. A request for service s goes
// to "req.<s>.<the request event's routing key>" (so it never reaches the
// ordinary consumers of that event); a client's replies go to
// "reply.<client id>".
const (
	RequestKind = "req"
	ReplyKind   = "reply"
)

// RequestKey returns the routing key Call sends req to for service.
func RequestKey(service string, req events.Event) string {
	return RequestKind + "." + service + "." + req.RoutingKey()
}

// Pattern returns the subscription pattern a server of service uses for
// the requests whose event routing keys match eventPattern, e.g.
// Pattern("risk", "order.#") = "req.risk.order.#".
func Pattern(service, eventPattern string) string {
	return RequestKind + "." + service + "." + eventPattern
}

var (
	// ErrTimeout is returned by Call when ctx ended before the reply came.
	ErrTimeout = errors.New("rpc: no reply before the deadline")
	// ErrClosed is returned by Call on a closed Client.
	ErrClosed = errors.New("rpc: client closed")
	// ErrUnexpectedReply is returned by Call when the reply is not of the
	// type the caller asked for.
	ErrUnexpectedReply = errors.New("rpc: unexpected reply type")
	// ErrInvalidOption is wrapped by errors about options and arguments.
	ErrInvalidOption = errors.New("rpc: invalid option")
)

// Error is a typed remote error: the server's function returned it (or a
// permanent error, sent as an Error with code "permanent"), and the caller
// gets it from Call.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "rpc: remote error " + e.Code + ": " + e.Message }

// Client sends requests and waits for their replies. It is safe for
// concurrent use: any number of calls may be in flight.
type Client struct {
	raw      message.Publisher
	enc      *publisher.Publisher
	sub      message.Subscriber
	tr       transport.Transport
	group    string
	replyKey string
	timeout  time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending map[string]chan *message.Message
	closed  bool

	late   atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

// ClientOption configures a Client.
type ClientOption func(*Client) error

// WithTimeout is the deadline Call applies when ctx has none, 1ms to 1h.
// Default 5s.
func WithTimeout(d time.Duration) ClientOption {
	return func(c *Client) error {
		if d < time.Millisecond || d > time.Hour {
			return fmt.Errorf("%w: timeout %v, want 1ms to 1h", ErrInvalidOption, d)
		}
		c.timeout = d
		return nil
	}
}

// WithLogger sets the client's logger. Default slog.Default().
func WithLogger(l *slog.Logger) ClientOption {
	return func(c *Client) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// NewClient subscribes to a reply key of its own on tr and returns once the
// subscription exists, so a reply can never come before it. Close it to
// stop; the consumer group it created ("rpc-<id>") is then removed where
// the transport can remove groups.
func NewClient(ctx context.Context, tr transport.Transport, opts ...ClientOption) (*Client, error) {
	if tr == nil {
		return nil, fmt.Errorf("%w: nil transport", ErrInvalidOption)
	}
	id := newID()
	c := &Client{
		raw: tr.Publisher(), tr: tr, group: "rpc-" + id, replyKey: ReplyKind + "." + id,
		timeout: 5 * time.Second, logger: slog.Default(), pending: make(map[string]chan *message.Message),
		done: make(chan struct{}),
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	enc, err := publisher.New(c.raw)
	if err != nil {
		return nil, err
	}
	c.enc = enc
	if c.sub, err = tr.Subscriber(c.group); err != nil {
		return nil, err
	}
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ch, err := c.sub.Subscribe(subCtx, c.replyKey)
	if err != nil {
		cancel()
		_ = c.sub.Close()
		return nil, fmt.Errorf("rpc: subscribe to replies: %w", err)
	}
	c.cancel = cancel
	go c.receive(ch)
	return c, nil
}

// Group returns the consumer group the client reads its replies as.
func (c *Client) Group() string { return c.group }

// ReplyKey returns the routing key the client's replies go to.
func (c *Client) ReplyKey() string { return c.replyKey }

// Late returns how many replies came when nobody waited for them any more.
func (c *Client) Late() int64 { return c.late.Load() }

func (c *Client) receive(ch <-chan *message.Message) {
	defer close(c.done)
	for msg := range ch {
		id := msg.Metadata[events.MetaCausationID]
		c.mu.Lock()
		w, ok := c.pending[id]
		if ok {
			delete(c.pending, id)
		}
		c.mu.Unlock()
		if ok {
			w <- msg // buffered 1, and the entry is gone: never blocks
		} else {
			c.late.Add(1)
		}
		msg.Ack()
	}
}

// Call sends req to service and waits for its reply of type Resp. Without a deadline
// in ctx, the client's timeout applies. It returns ErrTimeout (wrapping
// ctx's error) if no reply came in time, an *Error if the server answered
// with one, and ErrUnexpectedReply if the reply is of another type.
func Call[Resp events.Event](ctx context.Context, c *Client, service string, req events.Event) (Resp, error) {
	var zero Resp
	if err := events.ValidateSegment(service); err != nil {
		return zero, fmt.Errorf("%w: service %q: %w", ErrInvalidOption, service, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	msg, err := c.enc.NewMessage(ctx, req)
	if err != nil {
		return zero, err
	}
	msg.Metadata[events.MetaReplyTo] = c.replyKey
	msg.Metadata[events.MetaDeadline] = deadline.UTC().Format(time.RFC3339Nano)
	wait := make(chan *message.Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return zero, ErrClosed
	}
	c.pending[msg.UUID] = wait
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, msg.UUID)
		c.mu.Unlock()
	}
	if err := publish(ctx, c.raw, RequestKind+"."+service+"."+msg.Metadata[events.MetaRoutingKey], msg); err != nil {
		forget()
		if ctx.Err() != nil {
			return zero, fmt.Errorf("%w: %w (while sending: %v)", ErrTimeout, ctx.Err(), err)
		}
		return zero, fmt.Errorf("rpc: send request: %w", err)
	}
	var reply *message.Message
	select {
	case reply = <-wait:
	case <-ctx.Done():
		forget()
		// The reply may have been handed over just now.
		select {
		case reply = <-wait:
		default:
			return zero, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		}
	}
	if reply == nil {
		return zero, ErrClosed
	}
	return decodeReply[Resp](reply)
}

func decodeReply[Resp events.Event](msg *message.Message) (Resp, error) {
	var zero Resp
	typ := msg.Metadata[events.MetaType]
	if typ == TypeError {
		var e Error
		if err := json.Unmarshal(msg.Payload, &e); err != nil {
			return zero, fmt.Errorf("rpc: undecodable error reply: %w", err)
		}
		return zero, &e
	}
	if typ != zero.EventType() {
		return zero, fmt.Errorf("%w: got %q, want %q", ErrUnexpectedReply, typ, zero.EventType())
	}
	return events.Unmarshal[Resp](msg.Payload)
}

// Close stops the client: calls in flight return ErrClosed, the reply
// subscription is closed, and its consumer group is deleted where the
// transport supports it.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for id, w := range c.pending {
		delete(c.pending, id)
		w <- nil
	}
	c.mu.Unlock()
	c.cancel()
	err := c.sub.Close()
	select {
	case <-c.done:
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
	return errors.Join(err, removeReplyGroup(ctx, c.tr, c.group, c.replyKey))
}

func removeReplyGroup(ctx context.Context, tr transport.Transport, group, pattern string) error {
	if err := transport.RemoveGroup(ctx, tr, group, pattern); err != nil {
		return fmt.Errorf("rpc: remove the reply group %s: %w", group, err)
	}
	return nil
}

// publish sends msg to key within ctx where the publisher can (a tradebus
// transport's BatchPublisher).
func publish(ctx context.Context, pub message.Publisher, key string, msg *message.Message) error {
	if bp, ok := pub.(transport.BatchPublisher); ok {
		if msg.Metadata[events.MetaRoutingKey] != key {
			msg.Metadata[events.MetaRoutingKey] = key
		}
		return bp.PublishBatch(ctx, []*message.Message{msg})
	}
	msg.SetContext(ctx)
	return pub.Publish(key, msg)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newUUID returns a UUIDv7 string for error replies.
func newUUID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
