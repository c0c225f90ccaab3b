package nats

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// Driver is the driver.Driver of NATS JetStream: it moves batches, and the
// portable core (transport.New) does the rest. It is safe for concurrent
// use. The zero value is not usable; call NewDriver or Open.
type Driver struct {
	nc    *natsgo.Conn
	owned bool // Open made the connection: Close closes it
	js    jetstream.JetStream
	cfg   config
	log   *slog.Logger
	topic topic

	streams sync.Map // kind -> struct{}: stream created or updated

	rewound   atomic.Uint64 // stream sequences NAKed by take-overs, for tests
	recovered atomic.Uint64 // stream sequences NAKed after reconnects, for tests
	losePulls atomic.Int32  // tests: pull requests to send where nobody answers (LosePulls)

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
}

var _ driver.Driver = (*Driver)(nil)

// NewDriver returns a Driver on nc; run it with transport.New(drv, …).
// The caller keeps ownership of nc: Close does not close it (set
// nats.MaxReconnects(-1) on it so that it never gives up reconnecting).
// NewDriver does not talk to the server; streams are created or updated
// on the first publish or subscribe of each kind.
func NewDriver(nc *natsgo.Conn, opts ...Option) (*Driver, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	d := &Driver{nc: nc, js: js, cfg: cfg, log: log, subs: make(map[*subscription]struct{})}
	d.topic.d = d
	return d, nil
}

// URL query parameters Open maps to options.
const (
	paramPrefix        = "prefix"
	paramStart         = "start"
	paramAckWait       = "ack_wait"
	paramMaxDeliver    = "max_deliver"
	paramMaxAckPending = "max_ack_pending"
	paramStorage       = "storage"
	paramMaxMsgs       = "max_msgs"
	paramMaxAge        = "max_age"
	paramReplicas      = "replicas"
	paramDupWindow     = "duplicate_window"
	paramName          = "name"
	paramPullWait      = "pull_wait"

	connectTimeoutWithoutCtx = 10 * time.Second
	flushTimeoutWithoutCtx   = 5 * time.Second
	maxNameLen               = 256
)

// Open connects to the NATS server(s) at u (nats://[user:password@]host:
// port[,host:port…], tls:// for TLS) and returns a Driver that owns the
// connection, which reconnects forever and does not buffer publishes
// while disconnected (they fail at once). It is the driver.Opener that
// transport.Open uses for nats:// and tls:// URLs, after the core removed
// its own parameters (concurrency, batch, redelivery_backoff, …). The
// driver's query parameters set options: prefix, start (new|oldest),
// ack_wait, max_deliver, max_ack_pending, storage (file|memory), max_msgs,
// max_age, replicas, duplicate_window, pull_wait (durations in
// time.ParseDuration syntax, bounds as the options'), and name (the
// connection name). An unknown parameter or a value out of bounds is an
// error wrapping ErrInvalidOption. Open checks within ctx that JetStream
// is enabled. Errors never contain the password.
func Open(ctx context.Context, u *url.URL) (driver.Driver, error) {
	d, err := open(ctx, u, nil, nil)
	if err != nil {
		return nil, err // never a non-nil interface holding a nil pointer
	}
	return d, nil
}

// OpenDriver is Open returning the concrete type; extra options apply
// after the URL's.
func OpenDriver(ctx context.Context, u *url.URL, opts ...Option) (*Driver, error) {
	return open(ctx, u, opts, nil)
}

// openEnv is Open for transport.Open, with env's logger as WithLogger and
// its TLS configuration for the connection (TLS also on nats:// then).
func openEnv(ctx context.Context, u *url.URL, env driver.Env) (driver.Driver, error) {
	var opts []Option
	if env.Logger != nil {
		opts = append(opts, WithLogger(env.Logger))
	}
	d, err := open(ctx, u, opts, env.TLS)
	if err != nil {
		return nil, err // never a non-nil interface holding a nil pointer
	}
	return d, nil
}

func open(ctx context.Context, u *url.URL, extra []Option, tlsConfig *tls.Config) (*Driver, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	red := u.Redacted()
	if u.Scheme != "nats" && u.Scheme != "tls" {
		return nil, fmt.Errorf("nats: open %s: %w: scheme %q, want nats or tls", red, ErrInvalidOption, u.Scheme)
	}
	opts, name, err := parseQuery(u.Query())
	if err != nil {
		return nil, fmt.Errorf("nats: open %s: %w", red, err)
	}
	opts = append(opts, extra...)
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("nats: open %s: %w: nil option", red, ErrInvalidOption)
		}
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("nats: open %s: %w", red, err)
		}
	}
	timeout := connectTimeoutWithoutCtx
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return nil, fmt.Errorf("nats: open %s: %w", red, context.DeadlineExceeded)
	}
	log := cfg.logger
	if log == nil {
		log = slog.Default()
	}
	su := *u
	su.RawQuery = ""
	var secure natsgo.Option = func(*natsgo.Options) error { return nil }
	if tlsConfig != nil {
		secure = natsgo.Secure(tlsConfig.Clone())
	}
	nc, err := natsgo.Connect(su.String(),
		secure,
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
	d, err := NewDriver(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: open %s: %w", red, err)
	}
	d.owned = true
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := d.js.AccountInfo(cctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: open %s: jetstream: %w", red, err)
	}
	return d, nil
}

func parseQuery(q url.Values) ([]Option, string, error) {
	var opts []Option
	name := "tradebus"
	for k, vs := range q {
		if err := urlopt.Once(ErrInvalidOption, k, vs); err != nil {
			return nil, "", err
		}
		v := vs[0]
		bad := func(err error) error { return urlopt.Invalid(ErrInvalidOption, k, v, err) }
		var err error
		switch k {
		case paramPrefix:
			opts = append(opts, WithPrefix(v))
		case paramName:
			if len(v) > maxNameLen {
				return nil, "", bad(fmt.Errorf("longer than %d bytes", maxNameLen))
			}
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
		case paramMaxDeliver:
			var n int
			if n, err = urlopt.IntIn(ErrInvalidOption, k, v, -1, MaxMaxDeliver); err == nil {
				opts = append(opts, WithMaxDeliver(n))
			}
		case paramMaxAckPending:
			var n int
			if n, err = urlopt.IntIn(ErrInvalidOption, k, v, 1, MaxMaxAckPending); err == nil {
				opts = append(opts, WithMaxAckPending(n))
			}
		case paramReplicas:
			var n int
			if n, err = urlopt.IntIn(ErrInvalidOption, k, v, 1, MaxReplicas); err == nil {
				opts = append(opts, WithReplicas(n))
			}
		case paramMaxMsgs:
			var n int
			if n, err = urlopt.IntIn(ErrInvalidOption, k, v, -1, int(MaxMaxMsgs)); err == nil {
				opts = append(opts, WithMaxMsgs(int64(n)))
			}
		case paramAckWait:
			var d time.Duration
			if d, err = urlopt.DurationIn(ErrInvalidOption, k, v, MinAckWait, MaxAckWait); err == nil {
				opts = append(opts, WithAckWait(d))
			}
		case paramMaxAge:
			var d time.Duration
			if d, err = urlopt.DurationIn(ErrInvalidOption, k, v, 0, MaxMaxAge); err == nil {
				opts = append(opts, WithMaxAge(d))
			}
		case paramDupWindow:
			var d time.Duration
			if d, err = urlopt.DurationIn(ErrInvalidOption, k, v, 0, MaxDuplicateWindow); err == nil {
				opts = append(opts, WithDuplicateWindow(d))
			}
		case paramPullWait:
			var d time.Duration
			if d, err = urlopt.DurationIn(ErrInvalidOption, k, v, MinPullWait, MaxPullWait); err == nil {
				opts = append(opts, WithPullWait(d))
			}
		default:
			return nil, "", fmt.Errorf("%w: unknown parameter %q", ErrInvalidOption, k)
		}
		if err != nil {
			return nil, "", err
		}
	}
	return opts, name, nil
}

// Subject returns the NATS subject that carries routing key key.
func (d *Driver) Subject(key string) string { return subject(d.cfg.prefix, key) }

// Stream returns the name of the JetStream stream that keeps events of the
// kind of key (a routing key or pattern).
func (d *Driver) Stream(key string) string { return streamName(d.cfg.prefix, events.Kind(key)) }

// Conn returns the driver's NATS connection.
func (d *Driver) Conn() *natsgo.Conn { return d.nc }

// Topic implements driver.Driver.
func (d *Driver) Topic() driver.Topic { return &d.topic }

// Capabilities implements driver.Driver. MaxMessageBytes is the server's
// max_payload (read from the connection: headers count against it),
// MaxHeaderBytes JetStream's bound on a header block (MaxHeaderBytes,
// 65,535), each less headerReserve for the header framing the core does
// not count; publishing checks the exact encoded sizes as well.
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Name:               "nats",
		MaxMessageBytes:    max(int(d.nc.MaxPayload())-headerReserve, 1),
		MaxHeaderBytes:     MaxHeaderBytes - headerReserve,
		KeepsHistory:       true,
		DurableGroups:      true,
		SharedGroups:       true,
		OrderAcrossMembers: false,
		Redelivers:         true,
	}
}

// Subscribe implements driver.Driver: it creates the stream of pattern's
// kind and the durable consumer of (group, pattern) if missing, takes over
// the unacked messages of the consumer's members that are gone (see
// takeover.go) and pulls from it.
func (d *Driver) Subscribe(ctx context.Context, group, pattern string) (driver.Subscription, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	s := newSubscription(d, group, pattern)
	cons, err := s.ensureConsumer(ctx, d.cfg.start.policy())
	if err != nil {
		return nil, fmt.Errorf("nats: subscribe %s: %w", pattern, err)
	}
	if n, err := s.takeOver(ctx, cons); err != nil {
		return nil, fmt.Errorf("nats: subscribe %s: %w", pattern, err)
	} else if n > 0 {
		d.rewound.Add(n)
		d.log.Info("nats: took over the unacked messages of gone members", "consumer", s.consumer, "sequences", n)
	}
	if err := s.announce(); err != nil {
		return nil, fmt.Errorf("nats: subscribe %s: %w", pattern, err)
	}
	s.cons = cons
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		s.unannounce()
		return nil, ErrClosed
	}
	d.subs[s] = struct{}{}
	d.mu.Unlock()
	s.start()
	return s, nil
}

// Prepare implements driver.Driver: it creates the stream and the durable
// consumer of (group, pattern) (per WithStart) without consuming.
func (d *Driver) Prepare(ctx context.Context, group, pattern string) error {
	if d.isClosed() {
		return ErrClosed
	}
	if _, err := newSubscription(d, group, pattern).ensureConsumer(ctx, d.cfg.start.policy()); err != nil {
		return fmt.Errorf("nats: prepare %s: %w", pattern, err)
	}
	return nil
}

// Close implements driver.Driver: it flushes the acks still buffered and
// closes the connection if Open made it. The core calls it after every
// subscription was closed.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	// nats.go v1.55 starts a goroutine with the first PublishAsync that
	// reads the publisher's status channel under its lock and waits on
	// it; CleanupPublisher sets that channel to nil, so when it runs
	// before the goroutine took the lock, the goroutine waits on a nil
	// channel forever (seen once in a full -race run of cmd/tradebus).
	// On a connection we own, with nothing in flight, closing the
	// connection is enough: it sends CLOSED on the channel, which the
	// goroutine reads whenever it runs. Otherwise (acks pending, or the
	// caller's connection) CleanupPublisher fails what is in flight and
	// unsubscribes the reply subject.
	if !d.owned || d.js.PublishAsyncPending() > 0 {
		d.js.CleanupPublisher()
	}
	// Acks and NAKs are fire-and-forget publishes: send them before the
	// connection goes.
	var err error
	if d.nc.IsConnected() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, flushTimeoutWithoutCtx)
			defer cancel()
		}
		if ferr := d.nc.FlushWithContext(ctx); ferr != nil {
			err = fmt.Errorf("nats: close: flush acks: %w", ferr)
		}
	}
	if d.owned {
		d.nc.Close()
	}
	return err
}

func (d *Driver) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

func (d *Driver) forget(s *subscription) {
	d.mu.Lock()
	delete(d.subs, s)
	d.mu.Unlock()
}

// ensureStream creates or updates the stream of kind once per Driver
// (again after forgetStream).
func (d *Driver) ensureStream(ctx context.Context, kind string) error {
	if _, ok := d.streams.Load(kind); ok {
		return nil
	}
	cfg := jetstream.StreamConfig{
		Name:      streamName(d.cfg.prefix, kind),
		Subjects:  []string{subject(d.cfg.prefix, kind), subject(d.cfg.prefix, kind) + ".>"},
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		MaxMsgs:   d.cfg.maxMsgs,
		MaxAge:    d.cfg.maxAge,
		Replicas:  d.cfg.replicas,
		Storage:   jetstream.FileStorage,
	}
	if d.cfg.storage == MemoryStorage {
		cfg.Storage = jetstream.MemoryStorage
	}
	if d.cfg.dupWindow > 0 {
		cfg.Duplicates = d.cfg.dupWindow
	}
	if _, err := d.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
	}
	d.streams.Store(kind, struct{}{})
	return nil
}

func (d *Driver) forgetStream(kind string) { d.streams.Delete(kind) }
