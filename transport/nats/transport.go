package nats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/closeall"
	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// Transport is a tradebus transport on NATS JetStream. It is safe for
// concurrent use. The zero value is not usable; call New or Open.
type Transport struct {
	nc    *natsgo.Conn
	owned bool // Open made the connection: Close closes it
	js    jetstream.JetStream
	cfg   config
	pub   *Publisher

	streams sync.Map // kind -> struct{}: stream created or updated

	mu     sync.Mutex
	closed bool
	subs   map[*Subscriber]struct{}
}

// New returns a Transport on nc. The caller keeps ownership of nc: Close
// does not close it (set nats.MaxReconnects(-1) on it so that it never
// gives up reconnecting). New does not talk to the server; streams are
// created or updated on the first Publish or Subscribe of each kind.
func New(nc *natsgo.Conn, opts ...Option) (*Transport, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	t := &Transport{nc: nc, js: js, cfg: cfg, subs: make(map[*Subscriber]struct{})}
	t.pub = &Publisher{t: t}
	return t, nil
}

// URL query parameters Open maps to options.
const (
	paramPrefix        = "prefix"
	paramConcurrency   = "concurrency"
	paramStart         = "start"
	paramAckWait       = "ack_wait"
	paramMaxDeliver    = "max_deliver"
	paramMaxAckPending = "max_ack_pending"
	paramStorage       = "storage"
	paramMaxMsgs       = "max_msgs"
	paramMaxAge        = "max_age"
	paramReplicas      = "replicas"
	paramDupWindow     = "duplicate_window"
	paramBackoff       = "redelivery_backoff"
	paramBackoffMax    = "redelivery_backoff_max"
	paramCloseTimeout  = "close_timeout"
	paramName          = "name"
	paramPullWait      = "pull_wait"

	connectTimeoutWithoutCtx = 10 * time.Second
)

// Open connects to the NATS server(s) at u (nats://[user:password@]host:
// port[,host:port…]) and returns a Transport that owns the connection,
// which reconnects forever and does not buffer publishes while
// disconnected (they fail at once). Query parameters set options: prefix,
// concurrency, start (new|oldest), ack_wait, max_deliver, max_ack_pending,
// storage (file|memory), max_msgs, max_age, replicas, duplicate_window,
// redelivery_backoff, redelivery_backoff_max, close_timeout, pull_wait (durations in
// time.ParseDuration syntax), and name (the connection name). An unknown
// parameter is an error wrapping ErrInvalidOption. Open checks within ctx
// that JetStream is enabled. Errors never contain the password.
func Open(ctx context.Context, u *url.URL) (*Transport, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	red := u.Redacted()
	if u.Scheme != "nats" {
		return nil, fmt.Errorf("nats: open %s: %w: scheme %q, want nats", red, ErrInvalidOption, u.Scheme)
	}
	opts, name, err := parseQuery(u.Query())
	if err != nil {
		return nil, fmt.Errorf("nats: open %s: %w", red, err)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("nats: open %s: %w", red, err)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("nats: open %s: %w", red, err)
	}
	timeout := connectTimeoutWithoutCtx
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return nil, fmt.Errorf("nats: open %s: %w", red, context.DeadlineExceeded)
	}
	log := cfg.logger
	su := *u
	su.RawQuery = ""
	nc, err := natsgo.Connect(su.String(),
		natsgo.Name(name),
		natsgo.Timeout(timeout),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250*time.Millisecond),
		// Fail a publish while disconnected instead of buffering it: a
		// buffered publish whose ack wait ended returns an error and may
		// still be stored after the reconnect.
		natsgo.ReconnectBufSize(-1),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				log.Warn("nats: disconnected", "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(*natsgo.Conn) { log.Info("nats: reconnected") }),
	)
	if err != nil {
		// nats.go's connect errors name no URL.
		return nil, fmt.Errorf("nats: open %s: %w", red, err)
	}
	t, err := New(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: open %s: %w", red, err)
	}
	t.owned = true
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := t.js.AccountInfo(cctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: open %s: jetstream: %w", red, err)
	}
	return t, nil
}

func parseQuery(q url.Values) ([]Option, string, error) {
	var opts []Option
	name := "tradebus"
	var backoff, backoffMax time.Duration
	for k, vs := range q {
		if err := urlopt.Once(ErrInvalidOption, k, vs); err != nil {
			return nil, "", err
		}
		v := vs[0]
		bad := func(err error) error { return urlopt.Invalid(ErrInvalidOption, k, v, err) }
		switch k {
		case paramPrefix:
			opts = append(opts, WithPrefix(v))
		case paramName:
			name = v
		case paramStart:
			switch v {
			case "new":
				opts = append(opts, WithStart(StartNew))
			case "oldest":
				opts = append(opts, WithStart(StartOldest))
			default:
				return nil, "", bad(errors.New("want new or oldest"))
			}
		case paramStorage:
			switch v {
			case "file":
				opts = append(opts, WithStorage(FileStorage))
			case "memory":
				opts = append(opts, WithStorage(MemoryStorage))
			default:
				return nil, "", bad(errors.New("want file or memory"))
			}
		case paramConcurrency, paramMaxDeliver, paramMaxAckPending, paramReplicas, paramMaxMsgs:
			n, err := urlopt.Int64(ErrInvalidOption, k, v)
			if err != nil {
				return nil, "", err
			}
			switch k {
			case paramConcurrency:
				opts = append(opts, WithConcurrency(int(n)))
			case paramMaxDeliver:
				opts = append(opts, WithMaxDeliver(int(n)))
			case paramMaxAckPending:
				opts = append(opts, WithMaxAckPending(int(n)))
			case paramReplicas:
				opts = append(opts, WithReplicas(int(n)))
			case paramMaxMsgs:
				opts = append(opts, WithMaxMsgs(n))
			}
		case paramAckWait, paramMaxAge, paramDupWindow, paramBackoff, paramBackoffMax, paramCloseTimeout, paramPullWait:
			d, err := urlopt.Duration(ErrInvalidOption, k, v)
			if err != nil {
				return nil, "", err
			}
			switch k {
			case paramAckWait:
				opts = append(opts, WithAckWait(d))
			case paramMaxAge:
				opts = append(opts, WithMaxAge(d))
			case paramDupWindow:
				opts = append(opts, WithDuplicateWindow(d))
			case paramCloseTimeout:
				opts = append(opts, WithCloseTimeout(d))
			case paramPullWait:
				opts = append(opts, WithPullWait(d))
			case paramBackoff:
				backoff = d
			case paramBackoffMax:
				backoffMax = d
			}
		default:
			return nil, "", fmt.Errorf("%w: unknown parameter %q", ErrInvalidOption, k)
		}
	}
	if i, m, ok := urlopt.Backoff(backoff, backoffMax, DefaultRedeliveryBackoff, DefaultRedeliveryBackoffMax); ok {
		opts = append(opts, WithRedeliveryBackoff(i, m))
	}
	return opts, name, nil
}

// Subject returns the NATS subject that carries routing key key.
func (t *Transport) Subject(key string) string { return subject(t.cfg.prefix, key) }

// Stream returns the name of the JetStream stream that keeps events of the
// kind of key (a routing key or pattern).
func (t *Transport) Stream(key string) string { return streamName(t.cfg.prefix, events.Kind(key)) }

// Publisher returns the transport's publisher. Its topic is the routing
// key. Closing it is a no-op; close the Transport instead.
func (t *Transport) Publisher() message.Publisher { return t.pub }

// Subscriber returns a subscriber for consumer group group. Every group
// receives every matching event once; subscribers of one group (in this or
// other processes) share the load. Each (group, pattern) pair is its own
// durable consumer on the kind's stream.
func (t *Transport) Subscriber(group string) (message.Subscriber, error) {
	if err := events.ValidateSegment(group); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidGroup, group, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	s := &Subscriber{t: t, group: group, subs: make(map[*subscription]struct{})}
	t.subs[s] = struct{}{}
	return s, nil
}

// Close stops every subscriber: it stops pulling, waits until ctx is done
// for messages already handed out to be acked or nacked, gives the rest
// back to JetStream (NAK: redelivered at once to another member), and
// stops every goroutine. It returns an error wrapping ctx.Err() if
// handed-out messages were still unacked when ctx ended. A connection made
// by Open is drained and closed. Close is idempotent.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	subs := make([]*Subscriber, 0, len(t.subs))
	for s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()

	err := closeall.Each(ctx, subs, (*Subscriber).close)
	t.js.CleanupPublisher()
	// Acks and NAKs are fire-and-forget publishes: send them before the
	// connection goes.
	_ = t.nc.FlushTimeout(time.Second)
	if t.owned {
		t.nc.Close()
	}
	return err
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Transport) forget(s *Subscriber) {
	t.mu.Lock()
	delete(t.subs, s)
	t.mu.Unlock()
}

// ensureStream creates or updates the stream of kind once per Transport
// (again after forgetStream).
func (t *Transport) ensureStream(ctx context.Context, kind string) error {
	if _, ok := t.streams.Load(kind); ok {
		return nil
	}
	cfg := jetstream.StreamConfig{
		Name:      streamName(t.cfg.prefix, kind),
		Subjects:  []string{subject(t.cfg.prefix, kind), subject(t.cfg.prefix, kind) + ".>"},
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		MaxMsgs:   t.cfg.maxMsgs,
		MaxAge:    t.cfg.maxAge,
		Replicas:  t.cfg.replicas,
		Storage:   jetstream.FileStorage,
	}
	if t.cfg.storage == MemoryStorage {
		cfg.Storage = jetstream.MemoryStorage
	}
	if t.cfg.dupWindow > 0 {
		cfg.Duplicates = t.cfg.dupWindow
	}
	if _, err := t.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
	}
	t.streams.Store(kind, struct{}{})
	return nil
}

func (t *Transport) forgetStream(kind string) { t.streams.Delete(kind) }
