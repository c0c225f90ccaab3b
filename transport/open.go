package transport

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tradebus/tradebus/transport/amqp"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/mem"
	"github.com/tradebus/tradebus/transport/nats"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// ErrUnknownScheme is wrapped by the error Open returns for a URL whose
// scheme no transport handles.
var ErrUnknownScheme = errors.New("transport: unknown URL scheme")

// ErrInvalidURL is wrapped by the error Open returns for a malformed URL.
var ErrInvalidURL = errors.New("transport: invalid URL")

// Schemes lists the URL schemes Open accepts.
func Schemes() []string {
	return []string{"mem", "amqp", "amqps", "kafka", "redis", "rediss", "nats", "tls"}
}

// Open opens the transport named by rawURL's scheme:
//
//	mem://                          in-process broker (tests, single-process apps)
//	amqp://user:pass@host:5672/vhost RabbitMQ (amqps:// for TLS)
//	kafka://host:9092[,host:9092]   Kafka
//	redis://host:6379/0             Redis Streams (rediss:// for TLS)
//	nats://host:4222                NATS JetStream (tls:// for TLS)
//
// Query parameters are the transport's options (see each package's Open).
// Errors never contain the URL's password.
func Open(ctx context.Context, rawURL string) (Transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the input, password included: do not wrap it.
		return nil, fmt.Errorf("%w: cannot parse %s", ErrInvalidURL, redact(rawURL))
	}
	if u.Scheme == "" || u.Opaque != "" {
		// Without "scheme://" url.Redacted cannot see a password: redact by hand.
		return nil, fmt.Errorf("%w: %s is not scheme://… (want one of %s)", ErrInvalidURL, redact(rawURL), strings.Join(Schemes(), ", "))
	}
	switch strings.ToLower(u.Scheme) {
	case "mem":
		return nilIfErr(mem.Open(ctx, u))
	case "amqp", "amqps":
		return nilIfErr(amqp.Open(ctx, u))
	case "kafka":
		return nilIfErr(kafka.Open(ctx, u))
	case "redis", "rediss":
		return nilIfErr(redisstream.Open(ctx, u))
	case "nats", "tls":
		return nilIfErr(nats.Open(ctx, u))
	default:
		return nil, fmt.Errorf("%w: %q in %q (want one of %s)", ErrUnknownScheme, u.Scheme, u.Redacted(), strings.Join(Schemes(), ", "))
	}
}

// nilIfErr avoids returning a non-nil interface holding a nil pointer.
func nilIfErr[T Transport](t T, err error) (Transport, error) {
	if err != nil {
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
