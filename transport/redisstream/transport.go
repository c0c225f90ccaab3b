package redisstream

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/closeall"
	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// Transport is a tradebus transport on Redis Streams. It is safe for
// concurrent use. The zero value is not usable; call New or Open.
type Transport struct {
	client redis.UniversalClient
	owned  bool // Open made the client: Close closes it
	cfg    config
	pub    *Publisher

	mu        sync.Mutex
	closed    bool
	subs      map[*Subscriber]struct{}
	consumers map[string]struct{} // stream\x00group\x00consumer names in use
}

// New returns a Transport on client. The caller keeps ownership of client:
// Close does not close it. New does not talk to Redis.
func New(client redis.UniversalClient, opts ...Option) (*Transport, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil redis client", ErrInvalidOption)
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
	t := &Transport{
		client:    client,
		cfg:       cfg,
		subs:      make(map[*Subscriber]struct{}),
		consumers: make(map[string]struct{}),
	}
	t.pub = &Publisher{t: t}
	return t, nil
}

// URL query parameters Open maps to options. Every other parameter is
// handed to redis.ParseURL (pool_size, dial_timeout, protocol, …), which
// rejects unknown ones.
const (
	paramPrefix           = "prefix"
	paramConcurrency      = "concurrency"
	paramStart            = "start"
	paramMaxLen           = "maxlen"
	paramClaimIdle        = "claim_idle"
	paramBlock            = "block"
	paramConsumer         = "consumer"
	paramBackoff          = "redelivery_backoff"
	paramBackoffMax       = "redelivery_backoff_max"
	paramCloseTimeout     = "close_timeout"
	pingTimeoutWithoutCtx = 10 * time.Second
)

// Open connects to the Redis at u (redis:// or rediss://, with user,
// password and database as redis.ParseURL reads them) and returns a
// Transport that owns the connection. Query parameters set options:
// prefix, concurrency, start (new|oldest), maxlen, claim_idle, block,
// consumer, redelivery_backoff, redelivery_backoff_max, close_timeout
// (durations in time.ParseDuration syntax); the remaining ones go to
// redis.ParseURL. An unknown parameter is an error wrapping
// ErrInvalidOption. Open pings Redis within ctx. Errors never contain the
// password.
func Open(ctx context.Context, u *url.URL) (*Transport, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	red := u.Redacted()
	opts, rest, err := parseQuery(u.Query())
	if err != nil {
		return nil, fmt.Errorf("redisstream: open %s: %w", red, err)
	}
	ru := *u
	ru.RawQuery = rest.Encode()
	ropts, err := redis.ParseURL(ru.String())
	if err != nil {
		// go-redis errors name the option or path, never the password.
		return nil, fmt.Errorf("redisstream: open %s: %w: %w", red, ErrInvalidOption, err)
	}
	client := redis.NewClient(ropts)
	t, err := New(client, opts...)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisstream: open %s: %w", red, err)
	}
	t.owned = true
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeoutWithoutCtx)
		defer cancel()
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redisstream: open %s: ping: %w", red, err)
	}
	return t, nil
}

func parseQuery(q url.Values) ([]Option, url.Values, error) {
	var opts []Option
	rest := url.Values{}
	var backoff, backoffMax time.Duration
	for name, vs := range q {
		if _, ours := knownParams[name]; ours {
			if err := urlopt.Once(ErrInvalidOption, name, vs); err != nil {
				return nil, nil, err
			}
		}
		v := vs[len(vs)-1]
		switch name {
		case paramPrefix:
			opts = append(opts, WithPrefix(v))
		case paramConsumer:
			opts = append(opts, WithConsumerName(v))
		case paramConcurrency:
			n, err := urlopt.Int(ErrInvalidOption, name, v)
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, WithConcurrency(n))
		case paramMaxLen:
			n, err := urlopt.Int64(ErrInvalidOption, name, v)
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, WithMaxLen(n))
		case paramStart:
			switch v {
			case "new", "$":
				opts = append(opts, WithStart(StartNew))
			case "oldest", "0":
				opts = append(opts, WithStart(StartOldest))
			default:
				return nil, nil, fmt.Errorf("%w: %s=%q, want new or oldest", ErrInvalidOption, name, v)
			}
		case paramClaimIdle, paramBlock, paramCloseTimeout, paramBackoff, paramBackoffMax:
			d, err := urlopt.Duration(ErrInvalidOption, name, v)
			if err != nil {
				return nil, nil, err
			}
			switch name {
			case paramClaimIdle:
				opts = append(opts, WithClaimIdle(d))
			case paramBlock:
				opts = append(opts, WithBlock(d))
			case paramCloseTimeout:
				opts = append(opts, WithCloseTimeout(d))
			case paramBackoff:
				backoff = d
			case paramBackoffMax:
				backoffMax = d
			}
		default:
			rest[name] = vs
		}
	}
	if i, m, ok := urlopt.Backoff(backoff, backoffMax, DefaultRedeliveryBackoff, DefaultRedeliveryBackoffMax); ok {
		opts = append(opts, WithRedeliveryBackoff(i, m))
	}
	return opts, rest, nil
}

var knownParams = map[string]struct{}{
	paramPrefix: {}, paramConcurrency: {}, paramStart: {}, paramMaxLen: {}, paramClaimIdle: {},
	paramBlock: {}, paramConsumer: {}, paramBackoff: {}, paramBackoffMax: {}, paramCloseTimeout: {},
}

// Stream returns the name of the stream that carries events of routing key
// (or pattern) key: the prefix followed by the key's kind.
func (t *Transport) Stream(key string) string { return t.cfg.prefix + events.Kind(key) }

// Publisher returns the transport's publisher. Its topic is the routing
// key. Closing it is a no-op; close the Transport instead.
func (t *Transport) Publisher() message.Publisher { return t.pub }

// Subscriber returns a subscriber for consumer group group. Every group
// receives every matching event once; subscribers of one group (in this or
// other processes) share the load. Each (group, pattern) pair is its own
// Redis consumer group named "group:pattern" on the kind's stream.
func (t *Transport) Subscriber(group string) (message.Subscriber, error) {
	return t.newSubscriber(group)
}

func (t *Transport) newSubscriber(group string) (*Subscriber, error) {
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

// Close stops every subscriber of the transport: it stops reading, waits
// until ctx is done for messages already handed out to be acked or
// nacked, acknowledges what was acked, then stops every goroutine. Entries
// still unacknowledged stay pending in Redis and are delivered again (to
// this consumer name after a restart, or to another consumer after
// WithClaimIdle). A client made by Open is closed. Close is idempotent.
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
	if t.owned {
		err = errors.Join(err, t.client.Close())
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

// acquireConsumer returns a consumer name for stream and group that no
// other live subscription of this transport uses.
func (t *Transport) acquireConsumer(stream, group string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := t.cfg.consumer
	for n := 2; ; n++ {
		k := stream + "\x00" + group + "\x00" + name
		if _, used := t.consumers[k]; !used {
			t.consumers[k] = struct{}{}
			return name
		}
		name = t.cfg.consumer + "-" + strconv.Itoa(n)
	}
}

func (t *Transport) releaseConsumer(stream, group, name string) {
	t.mu.Lock()
	delete(t.consumers, stream+"\x00"+group+"\x00"+name)
	t.mu.Unlock()
}
