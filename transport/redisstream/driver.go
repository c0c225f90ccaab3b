package redisstream

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// DefaultMaxBulkBytes is Redis' default proto-max-bulk-len (512 MiB): the
// largest string one command may carry, hence the largest payload. Open
// reads the server's value (CONFIG GET) when it is allowed to.
const DefaultMaxBulkBytes = 512 << 20

// Driver is the tradebus driver on Redis Streams: one go-redis client,
// the kinds' streams and their consumer groups. Use it through
// transport.New (or transport.Open with a redis:// URL). It is safe for
// concurrent use; its zero value is not usable (call NewDriver or Open).
type Driver struct {
	client  redis.UniversalClient
	owned   bool // Open made the client: Close closes it
	cfg     config
	maxBulk int

	mu        sync.Mutex
	closed    bool
	consumers map[string]struct{} // stream\x00group\x00consumer names in use

	readErrors atomic.Uint64 // failed XREADGROUP calls, for tests
}

var _ driver.Driver = (*Driver)(nil)

// NewDriver returns a Driver on client. The caller keeps ownership of
// client: Close does not close it. NewDriver does not talk to Redis. Every
// option error wraps transport.ErrInvalidOption.
func NewDriver(client redis.UniversalClient, opts ...Option) (*Driver, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil redis client", ErrInvalidOption)
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
	cfg.complete()
	return &Driver{
		client:    client,
		cfg:       cfg,
		maxBulk:   DefaultMaxBulkBytes,
		consumers: make(map[string]struct{}),
	}, nil
}

// openTimeout bounds Open's round trips when its ctx has no deadline.
const openTimeout = 10 * time.Second

// Open connects to the Redis at u (redis:// or rediss://, with user,
// password and database as redis.ParseURL reads them) and returns a Driver
// that owns the connection; transport.Open calls it for redis:// and
// rediss:// URLs, after removing the core's parameters (concurrency,
// batch, redelivery_backoff, …). Query parameters set options: prefix,
// start (new|oldest), maxlen, claim_idle, block, consumer; the client's
// own (pool_size, dial_timeout, protocol, …) go to redis.ParseURL, with
// bounds on those that size memory. An unknown or out-of-range parameter
// is an error wrapping transport.ErrInvalidOption. Open pings Redis
// within ctx and reads its proto-max-bulk-len. Errors never contain the
// password.
func Open(ctx context.Context, u *url.URL) (driver.Driver, error) {
	d, err := open(ctx, u, driver.Env{})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// openEnv is Open for transport.Open, with env's logger as WithLogger and
// its TLS configuration for the client (TLS also on redis:// then).
func openEnv(ctx context.Context, u *url.URL, env driver.Env) (driver.Driver, error) {
	d, err := open(ctx, u, env)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func open(ctx context.Context, u *url.URL, env driver.Env) (*Driver, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	red := u.Redacted()
	opts, rest, err := parseQuery(u.Query())
	if err != nil {
		return nil, fmt.Errorf("redisstream: open %s: %w", red, err)
	}
	if env.Logger != nil {
		opts = append(opts, WithLogger(env.Logger))
	}
	ru := *u
	ru.RawQuery = rest.Encode()
	ropts, err := redis.ParseURL(ru.String())
	if err != nil {
		// go-redis errors name the option or path, never the password.
		return nil, fmt.Errorf("redisstream: open %s: %w: %w", red, ErrInvalidOption, err)
	}
	if env.TLS != nil {
		ropts.TLSConfig = env.TLS.Clone()
	}
	client := redis.NewClient(ropts)
	d, err := NewDriver(client, opts...)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisstream: open %s: %w", red, err)
	}
	d.owned = true
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisstream: open %s: ping: %w", red, err)
	}
	// CONFIG may be disabled (managed Redis): keep the documented default.
	if kv, err := client.ConfigGet(ctx, "proto-max-bulk-len").Result(); err == nil {
		if n, err := strconv.ParseInt(kv["proto-max-bulk-len"], 10, 64); err == nil && n > 0 && n < DefaultMaxBulkBytes {
			d.maxBulk = int(n)
		}
	}
	return d, nil
}

// Stream returns the name of the stream that carries events of routing key
// (or pattern) key: the prefix followed by the key's kind.
func (d *Driver) Stream(key string) string { return d.cfg.prefix + events.Kind(key) }

// Client returns the go-redis client the driver uses.
func (d *Driver) Client() redis.UniversalClient { return d.client }

// Capabilities implements driver.Driver. Redis' limit is per string of a
// command (proto-max-bulk-len, 512 MiB by default): the payload, and each
// metadata value, must fit in it.
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Name:               "redisstream",
		MaxMessageBytes:    d.maxBulk,
		KeepsHistory:       true,
		DurableGroups:      true,
		SharedGroups:       true,
		OrderAcrossMembers: false,
		Redelivers:         true,
	}
}

// Topic implements driver.Driver.
func (d *Driver) Topic() driver.Topic { return (*topic)(d) }

// groupName is the Redis consumer group of (group, pattern): one group per
// pattern, so that two patterns of one tradebus group on the same kind
// stream each receive every event they match.
func groupName(group, pattern string) string { return group + ":" + pattern }

// Prepare implements driver.Driver: it creates the kind's stream and the
// consumer group of (group, pattern), per WithStart, if missing.
func (d *Driver) Prepare(ctx context.Context, group, pattern string) error {
	if d.isClosed() {
		return ErrClosed
	}
	return ensureGroup(ctx, d.client, d.Stream(pattern), groupName(group, pattern), d.cfg.start.id())
}

// Subscribe implements driver.Driver: it creates the stream and the
// consumer group "group:pattern" if missing and returns a subscription
// reading it as a consumer name of its own.
func (d *Driver) Subscribe(ctx context.Context, group, pattern string) (driver.Subscription, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	stream, g := d.Stream(pattern), groupName(group, pattern)
	if err := ensureGroup(ctx, d.client, stream, g, d.cfg.start.id()); err != nil {
		return nil, err
	}
	consumer, err := d.acquireConsumer(stream, g)
	if err != nil {
		return nil, err
	}
	return newSubscription(d, stream, g, consumer, events.Kind(pattern)), nil
}

// Close implements driver.Driver: it closes the client if Open made it.
// It is idempotent.
func (d *Driver) Close(context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	if d.owned {
		return d.client.Close()
	}
	return nil
}

func (d *Driver) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// acquireConsumer returns a consumer name for stream and group that no
// other live subscription of this driver uses: the configured name if it
// is free, so that a subscription that follows a closed one re-reads what
// that one left pending at once.
func (d *Driver) acquireConsumer(stream, group string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return "", ErrClosed
	}
	name := d.cfg.consumer
	for n := 2; ; n++ {
		k := stream + "\x00" + group + "\x00" + name
		if _, used := d.consumers[k]; !used {
			d.consumers[k] = struct{}{}
			return name, nil
		}
		name = d.cfg.consumer + "-" + strconv.Itoa(n)
	}
}

func (d *Driver) releaseConsumer(stream, group, name string) {
	d.mu.Lock()
	delete(d.consumers, stream+"\x00"+group+"\x00"+name)
	d.mu.Unlock()
}

// ensureGroup creates group on stream (and the stream) starting at id; an
// existing group is left as it is.
func ensureGroup(ctx context.Context, c redis.UniversalClient, stream, group, id string) error {
	err := c.XGroupCreateMkStream(ctx, stream, group, id).Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("redisstream: create group %q on %s: %w", group, stream, err)
	}
	return nil
}

// isNoGroup reports Redis' NOGROUP error: the stream or the group is gone
// (deleted, or Redis restarted without persistence).
func isNoGroup(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && redis.HasErrorPrefix(err, "NOGROUP")
}
