package transport

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// Defaults and bounds of the options every transport shares. The URL query
// parameter of each is named in its option's doc; the same name means the
// same thing, with the same bounds, on every transport.
const (
	DefaultConcurrency = 64
	MaxConcurrency     = 4096

	DefaultBatch = 256
	MaxBatch     = 4096

	DefaultRedeliveryBackoff    = 10 * time.Millisecond
	DefaultRedeliveryBackoffMax = time.Second
	MinRedeliveryBackoff        = time.Millisecond
	MaxRedeliveryBackoff        = time.Hour

	DefaultCloseTimeout = 30 * time.Second
	MinCloseTimeout     = time.Millisecond
	MaxCloseTimeout     = time.Hour
)

type config struct {
	concurrency  int
	batch        int
	backoff      time.Duration
	backoffMax   time.Duration
	closeTimeout time.Duration
	logger       *slog.Logger
	tls          *tls.Config
	tracer       trace.TracerProvider
	meter        metric.MeterProvider
}

func defaultConfig() config {
	return config{
		concurrency:  DefaultConcurrency,
		batch:        DefaultBatch,
		backoff:      DefaultRedeliveryBackoff,
		backoffMax:   DefaultRedeliveryBackoffMax,
		closeTimeout: DefaultCloseTimeout,
	}
}

// Option configures New (and Open, through URL query parameters).
type Option func(*config) error

// WithConcurrency sets how many messages of one subscription may be with
// handlers at once. Messages with the same partition key (metadata
// "partitionkey", the symbol) are never in flight together, so each key
// keeps its order; 1 hands out one message at a time. 1 to MaxConcurrency;
// default DefaultConcurrency (64). URL: concurrency=N.
func WithConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxConcurrency {
			return fmt.Errorf("%w: concurrency %d, want 1 to %d", ErrInvalidOption, n, MaxConcurrency)
		}
		c.concurrency = n
		return nil
	}
}

// WithBatch sets how many messages a subscription receives from the broker
// at most per request, and how many acks it sends at most per request. 1
// to MaxBatch; default DefaultBatch (256). URL: batch=N.
func WithBatch(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxBatch {
			return fmt.Errorf("%w: batch %d, want 1 to %d", ErrInvalidOption, n, MaxBatch)
		}
		c.batch = n
		return nil
	}
}

// WithRedeliveryBackoff sets the delay before a nacked message is handed
// out again: initial after the first nack, doubling per nack of the same
// message, at most max. The message's key waits meanwhile (it keeps its
// order); other keys go on. MinRedeliveryBackoff <= initial <= max <=
// MaxRedeliveryBackoff; default 10ms doubling to 1s. URL:
// redelivery_backoff=D and redelivery_backoff_max=D (either alone is
// completed from the defaults).
func WithRedeliveryBackoff(initial, max time.Duration) Option {
	return func(c *config) error {
		if initial < MinRedeliveryBackoff || max > MaxRedeliveryBackoff || max < initial {
			return fmt.Errorf("%w: redelivery backoff %s to %s, want %s <= initial <= max <= %s",
				ErrInvalidOption, initial, max, MinRedeliveryBackoff, MaxRedeliveryBackoff)
		}
		c.backoff, c.backoffMax = initial, max
		return nil
	}
}

// WithCloseTimeout bounds the drain of a subscription that ends because its
// Subscribe ctx ended or its Subscriber was closed (Transport.Close is
// bounded by its own ctx instead). MinCloseTimeout to MaxCloseTimeout;
// default 30s. URL: close_timeout=D.
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < MinCloseTimeout || d > MaxCloseTimeout {
			return fmt.Errorf("%w: close timeout %s, want %s to %s", ErrInvalidOption, d, MinCloseTimeout, MaxCloseTimeout)
		}
		c.closeTimeout = d
		return nil
	}
}

// WithLogger sets the logger of the transport: the core's and, through
// transport.Open, the driver's (connection losses, reconnects, what a
// broker client reports). Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// WithTLSConfig sets the TLS configuration transport.Open gives the
// driver's broker client, in place of the one the URL sets up: on RabbitMQ
// for amqps:// URLs; on Kafka, Redis and NATS it turns TLS on (mem has no
// connection and ignores it). The driver uses a clone; cfg must not be
// nil. Default: the URL's (amqps://, rediss://, tls://, kafka's tls=true).
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error {
		if cfg == nil {
			return fmt.Errorf("%w: nil TLS config", ErrInvalidOption)
		}
		c.tls = cfg
		return nil
	}
}

// WithTracerProvider makes the transport trace with tp: a producer span
// per published message (its traceparent goes with the message) and a
// consumer span per handled message, the child of the producer's span —
// so publish → handle → publish is one trace across services and
// transports. The retry, poison and dedup middleware add span events to
// it. tp must not be nil. Default: no tracing, at no cost (no global
// provider is read).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if tp == nil {
			return fmt.Errorf("%w: nil tracer provider", ErrInvalidOption)
		}
		c.tracer = tp
		return nil
	}
}

// WithMeterProvider makes the transport record metrics with mp (see
// MetricPublished and the other Metric names). mp must not be nil.
// Default: no metrics, at no cost (no global provider is read).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return fmt.Errorf("%w: nil meter provider", ErrInvalidOption)
		}
		c.meter = mp
		return nil
	}
}

// commonParams are the URL query parameters the core parses for every
// driver.
var commonParams = map[string]bool{
	"concurrency": true, "batch": true, "redelivery_backoff": true,
	"redelivery_backoff_max": true, "close_timeout": true,
}

// splitQuery removes the common parameters from u's query and returns
// them as Options, and the URL with only the driver's own parameters.
func splitQuery(u *url.URL) ([]Option, *url.URL, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: URL %s: query: %w", ErrInvalidOption, u.Redacted(), err)
	}
	var opts []Option
	var backoff, backoffMax time.Duration
	for name, vs := range q {
		if !commonParams[name] {
			continue
		}
		if err := urlopt.Once(ErrInvalidOption, name, vs); err != nil {
			return nil, nil, err
		}
		v := vs[0]
		var err error
		switch name {
		case "concurrency":
			var n int
			if n, err = urlopt.IntIn(ErrInvalidOption, name, v, 1, MaxConcurrency); err == nil {
				opts = append(opts, WithConcurrency(n))
			}
		case "batch":
			var n int
			if n, err = urlopt.IntIn(ErrInvalidOption, name, v, 1, MaxBatch); err == nil {
				opts = append(opts, WithBatch(n))
			}
		case "redelivery_backoff":
			backoff, err = urlopt.DurationIn(ErrInvalidOption, name, v, MinRedeliveryBackoff, MaxRedeliveryBackoff)
		case "redelivery_backoff_max":
			backoffMax, err = urlopt.DurationIn(ErrInvalidOption, name, v, MinRedeliveryBackoff, MaxRedeliveryBackoff)
		case "close_timeout":
			var d time.Duration
			if d, err = urlopt.DurationIn(ErrInvalidOption, name, v, MinCloseTimeout, MaxCloseTimeout); err == nil {
				opts = append(opts, WithCloseTimeout(d))
			}
		}
		if err != nil {
			return nil, nil, err
		}
		q.Del(name)
	}
	if i, m, ok := urlopt.Backoff(backoff, backoffMax, DefaultRedeliveryBackoff, DefaultRedeliveryBackoffMax); ok {
		if backoff == 0 && m < i {
			i = m // only the max was given, below the default initial
		}
		opts = append(opts, WithRedeliveryBackoff(i, m))
	}
	rest := *u
	rest.RawQuery = q.Encode()
	return opts, &rest, nil
}
