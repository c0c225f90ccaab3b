package amqp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
)

// Transport is a RabbitMQ connection pair (one connection for publishing,
// one for consuming) with a publisher and consumer-group subscribers. It
// implements tradebus' transport.Transport. It is safe for concurrent use.
// The zero value is not usable; call New or Open.
type Transport struct {
	cfg      config
	redacted string
	pubConn  *connector
	subConn  *connector
	pub      *Publisher
	done     chan struct{} // closed by Close

	pubSem chan struct{} // one opener of the publishing channel at a time
	pubCh  atomic.Pointer[amqp.Channel]

	// Publish calls in flight, and a wake-up for Close when it drops to 0.
	// Atomics: concurrent publishers take no lock.
	publishing atomic.Int64
	closing    atomic.Bool
	pubIdle    chan struct{}

	mu          sync.Mutex
	closed      bool
	subscribers map[*Subscriber]struct{}
}

// nativeParams are the URL query parameters amqp091-go itself understands;
// they are passed through.
var nativeParams = map[string]bool{
	"heartbeat": true, "connection_timeout": true, "channel_max": true, "auth_mechanism": true,
	"certfile": true, "keyfile": true, "cacertfile": true, "server_name_indication": true,
}

// New returns a Transport for rawURL (amqp://user:pass@host:port/vhost or
// amqps://…). It does not connect: connections are dialled on first use
// (Publish, Subscribe, Connect) and again after they are lost.
//
// URL query parameters map to options and are applied before opts:
// exchange, queue_type (quorum|classic), prefetch, concurrency,
// delivery_limit (a number or "none"), dead_letter_exchange, max_priority,
// confirms (true|false), publish_timeout and drain_timeout (Go durations),
// ca (a PEM file, see WithCAFile). amqp091-go's own parameters (heartbeat,
// connection_timeout, channel_max, auth_mechanism, certfile, keyfile,
// cacertfile, server_name_indication) pass through. Any other parameter,
// and any invalid option, is an error wrapping ErrInvalidOption. Errors
// never contain the password.
func New(rawURL string, opts ...Option) (*Transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%w: malformed AMQP URL: %v", ErrInvalidOption, err)
	}
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return nil, fmt.Errorf("%w: URL %s: scheme must be amqp or amqps", ErrInvalidOption, u.Redacted())
	}
	cfg := defaultConfig()
	native := url.Values{}
	var urlOpts []Option
	for key, vals := range u.Query() {
		if nativeParams[key] {
			native[key] = vals
			continue
		}
		if len(vals) != 1 {
			return nil, &OptionError{Option: "query parameter " + key, Value: strings.Join(vals, ","), Reason: "must be given once"}
		}
		opt, err := queryOption(key, vals[0])
		if err != nil {
			return nil, err
		}
		urlOpts = append(urlOpts, opt)
	}
	for _, opt := range append(urlOpts, opts...) {
		if opt.apply == nil {
			return nil, &OptionError{Option: "Option{}", Value: "", Reason: "the zero Option is invalid"}
		}
		opt.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.tlsConfig != nil {
		if u.Scheme != "amqps" {
			return nil, &OptionError{Option: "WithTLSConfig/WithCAFile", Value: u.Scheme, Reason: "TLS options need an amqps:// URL"}
		}
		for _, p := range []string{"certfile", "keyfile", "cacertfile", "server_name_indication"} {
			if native.Has(p) {
				return nil, &OptionError{Option: "query parameter " + p, Value: native.Get(p), Reason: "cannot be combined with WithTLSConfig/WithCAFile (amqp091-go would ignore it)"}
			}
		}
	}

	clean := *u
	clean.RawQuery = native.Encode()
	clean.Fragment, clean.RawFragment = "", ""
	redacted := clean.Redacted()
	if _, err := amqp.ParseURI(clean.String()); err != nil {
		return nil, fmt.Errorf("%w: URL %s: %v", ErrInvalidOption, redacted, redactErr(err, u))
	}

	t := &Transport{
		cfg:         cfg,
		redacted:    redacted,
		done:        make(chan struct{}),
		pubSem:      make(chan struct{}, 1),
		pubIdle:     make(chan struct{}, 1),
		subscribers: make(map[*Subscriber]struct{}),
	}
	t.pubConn = newConnector("publish", clean.String(), redacted, &t.cfg)
	t.subConn = newConnector("consume", clean.String(), redacted, &t.cfg)
	t.pub = &Publisher{t: t}
	return t, nil
}

// redactErr removes u's password from an error message.
func redactErr(err error, u *url.URL) string {
	s := err.Error()
	if pw, ok := u.User.Password(); ok && pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
		s = strings.ReplaceAll(s, url.QueryEscape(pw), "xxxxx")
	}
	return s
}

// Open is New for a parsed URL (see New for the query parameters), followed
// by Connect: it fails if the broker cannot be reached within ctx.
func Open(ctx context.Context, u *url.URL) (*Transport, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	t, err := New(u.String())
	if err != nil {
		return nil, err
	}
	if err := t.Connect(ctx); err != nil {
		_ = t.Close(ctx)
		return nil, err
	}
	return t, nil
}

// Connect dials the publishing connection now (one attempt, bounded by ctx)
// and declares the exchange, so that a bad address or credentials show up
// before the first Publish. Connections are otherwise dialled on first use.
func (t *Transport) Connect(ctx context.Context) error {
	if _, err := t.pubConn.tryConnect(ctx); err != nil {
		return err
	}
	_, err := t.publishChannel(ctx)
	return err
}

// String describes the transport without credentials.
func (t *Transport) String() string {
	return fmt.Sprintf("amqp transport %s exchange %q", t.redacted, t.cfg.exchange)
}

// Exchange returns the name of the topic exchange.
func (t *Transport) Exchange() string { return t.cfg.exchange }

// QueueName returns the name of the durable queue that consumer group group
// consumes for subscription pattern pattern: "<exchange>.<group>.<pattern>".
// Group and exchange are single segments, so the name is unambiguous.
func (t *Transport) QueueName(group, pattern string) string {
	return t.queueName(group, pattern)
}

// Publisher returns the transport's publisher. Closing it is a no-op.
func (t *Transport) Publisher() message.Publisher { return t.pub }

// Subscriber returns a subscriber consuming as consumer group group (one
// routing-key segment, e.g. "pricing"): every group gets every matching
// message once; subscribers of one group share its queue. It fails with
// ErrClosed after Close.
func (t *Transport) Subscriber(group string) (message.Subscriber, error) {
	if err := events.ValidateSegment(group); err != nil {
		return nil, fmt.Errorf("%w: consumer group %q: %w", ErrInvalidOption, group, err)
	}
	s := &Subscriber{t: t, group: group, subs: make(map[*subscription]struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	t.subscribers[s] = struct{}{}
	return s, nil
}

func (t *Transport) forgetSubscriber(s *Subscriber) {
	t.mu.Lock()
	delete(t.subscribers, s)
	t.mu.Unlock()
}

func (t *Transport) isClosed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// beginPublish registers an in-flight Publish; false after Close.
func (t *Transport) beginPublish() bool {
	t.publishing.Add(1)
	if t.closing.Load() {
		t.endPublish()
		return false
	}
	return true
}

func (t *Transport) endPublish() {
	if t.publishing.Add(-1) == 0 && t.closing.Load() {
		select {
		case t.pubIdle <- struct{}{}:
		default:
		}
	}
}

// waitPublishes waits until no Publish is in flight or ctx ends.
func (t *Transport) waitPublishes(ctx context.Context) {
	for t.publishing.Load() > 0 {
		select {
		case <-t.pubIdle:
		case <-ctx.Done():
			return
		}
	}
}

// Close stops the transport: new publishes fail with ErrClosed, in-flight
// publishes may finish, subscriptions stop handing out messages and wait
// for in-flight ones to be acked or nacked — all until ctx is done; then
// both connections are closed and every goroutine the transport started has
// ended. Unacked messages return to their queues. If ctx ended before the
// drain completed, the error wraps ctx.Err(). Close is idempotent; a second
// call returns nil at once.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.closing.Store(true)
	close(t.done)
	subs := make([]*Subscriber, 0, len(t.subscribers))
	for s := range t.subscribers {
		subs = append(subs, s)
	}
	t.subscribers = nil
	t.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() { s.close(ctx) })
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		t.waitPublishes(ctx)
		close(allDone)
	}()
	var drainErr error
	select {
	case <-allDone:
	case <-ctx.Done():
		drainErr = fmt.Errorf("amqp: close: in-flight messages abandoned (they will be redelivered): %w", ctx.Err())
	}
	// Closing the connections fails whatever still waits on the broker.
	err := errors.Join(drainErr, t.pubConn.close(), t.subConn.close())
	<-allDone
	return err
}

// queryOption maps one URL query parameter to an Option.
func queryOption(key, val string) (Option, error) {
	bad := func(reason string) (Option, error) {
		return Option{}, &OptionError{Option: "query parameter " + key, Value: val, Reason: reason}
	}
	atoi := func() (int, bool) {
		n, err := strconv.Atoi(val)
		return n, err == nil
	}
	switch key {
	case "exchange":
		return WithExchange(val), nil
	case "queue_type":
		return WithQueueType(QueueType(val)), nil
	case "prefetch":
		if n, ok := atoi(); ok {
			return WithPrefetch(n), nil
		}
		return bad("not an integer")
	case "concurrency":
		if n, ok := atoi(); ok {
			return WithConcurrency(n), nil
		}
		return bad("not an integer")
	case "delivery_limit":
		if val == "none" {
			return WithDeliveryLimit(NoDeliveryLimit), nil
		}
		if n, ok := atoi(); ok && n >= 1 {
			return WithDeliveryLimit(n), nil
		}
		return bad(`must be a positive integer or "none"`)
	case "dead_letter_exchange":
		return WithDeadLetterExchange(val), nil
	case "max_priority":
		if n, ok := atoi(); ok {
			return WithMaxPriority(n), nil
		}
		return bad("not an integer")
	case "confirms":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return bad("not a boolean")
		}
		if b {
			return Option{"confirms", func(*config) {}}, nil
		}
		return WithoutConfirms(), nil
	case "publish_timeout", "drain_timeout":
		d, err := time.ParseDuration(val)
		if err != nil {
			return bad("not a duration (e.g. 5s)")
		}
		if key == "publish_timeout" {
			return WithPublishTimeout(d), nil
		}
		return WithDrainTimeout(d), nil
	case "ca":
		return WithCAFile(val), nil
	default:
		return bad("unknown parameter")
	}
}
