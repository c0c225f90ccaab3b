package transport

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/tradebus/tradebus/transport/driver"
)

var registry struct {
	mu      sync.RWMutex
	openers map[string]driver.Opener
}

// Register makes a driver available to Open under a URL scheme (lower
// case). Drivers call it from an init function, so importing a driver
// package (or transport/all, which imports every one) is what makes its
// schemes work, as with database/sql. Registering a scheme twice, or a nil
// opener, panics: it is a programming error found at start-up.
func Register(scheme string, open driver.Opener) {
	if open == nil {
		panic("transport: Register of a nil opener for " + scheme)
	}
	scheme = strings.ToLower(scheme)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.openers == nil {
		registry.openers = make(map[string]driver.Opener)
	}
	if _, dup := registry.openers[scheme]; dup {
		panic("transport: scheme " + scheme + " registered twice")
	}
	registry.openers[scheme] = open
}

// Schemes lists the URL schemes Open accepts: those of the driver packages
// this program imports, sorted.
func Schemes() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	s := make([]string, 0, len(registry.openers))
	for k := range registry.openers {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Open opens the transport named by rawURL's scheme, which must have been
// registered by an imported driver package (import
// github.com/tradebus/tradebus/transport/all for every one):
//
//	mem://                           in-process broker (transport/mem)
//	amqp://user:pass@host:5672/vhost RabbitMQ (transport/amqp; amqps:// for TLS)
//	kafka://host:9092[,host:9092]    Kafka (transport/kafka)
//	redis://host:6379/0              Redis Streams (transport/redisstream; rediss:// for TLS)
//	nats://host:4222                 NATS JetStream (transport/nats; tls:// for TLS)
//
// Query parameters concurrency, batch, redelivery_backoff,
// redelivery_backoff_max and close_timeout are the core's (see the With…
// options) and mean the same on every transport; the others are the
// driver's (see its package). opts apply after the URL's.
// Errors never contain the URL's password.
func Open(ctx context.Context, rawURL string, opts ...Option) (Transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the input, password included: do not wrap it.
		return nil, fmt.Errorf("%w: cannot parse %s", ErrInvalidURL, redact(rawURL))
	}
	if u.Scheme == "" || u.Opaque != "" {
		// Without "scheme://" url.Redacted cannot see a password: redact by hand.
		return nil, fmt.Errorf("%w: %s is not scheme://… (want one of %s)", ErrInvalidURL, redact(rawURL), strings.Join(Schemes(), ", "))
	}
	registry.mu.RLock()
	open := registry.openers[strings.ToLower(u.Scheme)]
	registry.mu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%w: %q in %q (want one of %s; is its driver package imported?)",
			ErrUnknownScheme, u.Scheme, u.Redacted(), strings.Join(Schemes(), ", "))
	}
	common, rest, err := splitQuery(u)
	if err != nil {
		return nil, err
	}
	// Check the core's options before the driver connects, so that a bad
	// combination is reported as such, not hidden behind (or after) a
	// connection attempt.
	cfg := defaultConfig()
	for _, opt := range append(common, opts...) {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	d, err := open(ctx, rest, driver.Env{Logger: cfg.logger, TLS: cfg.tls})
	if err != nil {
		return nil, err
	}
	t, err := New(d, append(common, opts...)...)
	if err != nil {
		_ = d.Close(ctx)
		return nil, err
	}
	return t, nil
}

// redact removes anything between "//" and "@" from a string that did not
// parse as a URL, so that a password never reaches an error message.
func redact(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return fmt.Sprintf("%q", raw)
	}
	prefix := ""
	if i := strings.Index(raw[:at], "//"); i >= 0 {
		prefix = raw[:i+2]
	}
	return fmt.Sprintf("%q", prefix+"xxxxx"+raw[at:])
}
