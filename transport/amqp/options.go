package amqp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"time"

	"github.com/tradebus/tradebus/events"
)

// QueueType selects the RabbitMQ queue type of subscription queues.
type QueueType string

const (
	// QueueQuorum is a replicated, durable quorum queue (the default). It
	// counts redeliveries and enforces the delivery limit.
	QueueQuorum QueueType = "quorum"
	// QueueClassic is a classic durable queue. It supports priorities
	// (WithMaxPriority) but has no delivery limit.
	QueueClassic QueueType = "classic"
)

// NoDeliveryLimit passed to WithDeliveryLimit lets a quorum queue redeliver
// a nacked message forever.
const NoDeliveryLimit = -1

// Defaults and bounds of the options.
const (
	DefaultExchange        = "tradebus"
	DefaultDeliveryLimit   = 20
	MaxDeliveryLimit       = 1_000_000
	DefaultPublishTimeout  = 30 * time.Second
	MinPublishTimeout      = time.Millisecond
	MaxPublishTimeout      = time.Hour
	DefaultPublishChannels = 2
	MaxPublishChannels     = 64
	// MaxMaxMessageSize is RabbitMQ's own ceiling of max_message_size
	// (512 MiB).
	MaxMaxMessageSize = 512 << 20
)

// Option configures New. The zero Option is invalid.
type Option struct {
	name  string
	apply func(*config)
}

type config struct {
	exchange       string
	queueType      QueueType
	queueTypeSet   bool
	prefetch       int // 0: 2 × the core's batch
	pubChannels    int
	maxMessageSize int // 0: the broker version's default
	deliveryLimit  int
	limitSet       bool
	deadLetter     string
	maxPriority    int
	confirms       bool
	mandatory      bool
	publishTimeout time.Duration
	tlsConfig      *tls.Config
	caFile         string
	logger         *slog.Logger

	// dialTimeout bounds the TCP, TLS and AMQP handshakes of one dial.
	dialTimeout time.Duration
	// writeTimeout bounds one socket write; a write stalled longer (the
	// broker stopped reading, e.g. under a resource alarm) kills the
	// connection so that nothing waits forever.
	writeTimeout time.Duration
	// maxBackoff caps the wait between failed dials.
	maxBackoff time.Duration
	// netDial opens the TCP connection; tests replace it.
	netDial func(ctx context.Context, network, addr string) (net.Conn, error)

	errs []error
}

func defaultConfig() config {
	return config{
		exchange:       DefaultExchange,
		queueType:      QueueQuorum,
		pubChannels:    DefaultPublishChannels,
		deliveryLimit:  DefaultDeliveryLimit,
		confirms:       true,
		publishTimeout: DefaultPublishTimeout,
		logger:         slog.Default(),
		dialTimeout:    30 * time.Second,
		writeTimeout:   30 * time.Second,
		maxBackoff:     5 * time.Second,
	}
}

func (c *config) invalid(option string, value any, reason string) {
	c.errs = append(c.errs, &OptionError{Option: option, Value: fmt.Sprint(value), Reason: reason})
}

// validate runs after all options and reports the first problem.
func (c *config) validate() error {
	if len(c.errs) > 0 {
		return c.errs[0]
	}
	if err := events.ValidateSegment(c.exchange); err != nil {
		return &OptionError{Option: "WithExchange", Value: c.exchange, Reason: "must be one routing-key segment (no '.', '*', '#', '>' or space)"}
	}
	if c.deadLetter != "" {
		if err := events.ValidateSegment(c.deadLetter); err != nil {
			return &OptionError{Option: "WithDeadLetterExchange", Value: c.deadLetter, Reason: "must be one routing-key segment (no '.', '*', '#', '>' or space)"}
		}
		if c.deadLetter == c.exchange {
			return &OptionError{Option: "WithDeadLetterExchange", Value: c.deadLetter, Reason: "must differ from the exchange"}
		}
	}
	if c.mandatory && !c.confirms {
		return &OptionError{Option: "WithMandatory", Value: "", Reason: "needs publisher confirms (not WithoutConfirms)"}
	}
	switch c.queueType {
	case QueueQuorum, QueueClassic:
	default:
		return &OptionError{Option: "WithQueueType", Value: string(c.queueType), Reason: `must be "quorum" or "classic"`}
	}
	if c.maxPriority > 0 {
		if c.queueType != QueueClassic {
			if c.queueTypeSet {
				return &OptionError{Option: "WithMaxPriority", Value: fmt.Sprint(c.maxPriority), Reason: "x-max-priority needs classic queues; quorum queues do not support it"}
			}
			// Priorities need classic queues: choosing them implies it.
			c.queueType = QueueClassic
		}
	}
	if c.queueType == QueueClassic {
		if c.limitSet && c.deliveryLimit != NoDeliveryLimit {
			return &OptionError{Option: "WithDeliveryLimit", Value: fmt.Sprint(c.deliveryLimit), Reason: "classic queues have no delivery limit; use quorum queues"}
		}
		c.deliveryLimit = NoDeliveryLimit
	}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return &OptionError{Option: "WithCAFile", Value: c.caFile, Reason: "cannot read: " + err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return &OptionError{Option: "WithCAFile", Value: c.caFile, Reason: "no PEM certificate found"}
		}
		if c.tlsConfig == nil {
			c.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			c.tlsConfig = c.tlsConfig.Clone()
		}
		c.tlsConfig.RootCAs = pool
	}
	return nil
}

// WithExchange sets the name of the durable topic exchange every event is
// published to and every subscription queue is bound to. It must be one
// routing-key segment (letters, digits, '-', '_', ':' …; no '.'). Default:
// "tradebus".
func WithExchange(name string) Option {
	return Option{"WithExchange", func(c *config) { c.exchange = name }}
}

// WithQueueType sets the type of subscription queues: QueueQuorum (default)
// or QueueClassic. An existing queue keeps its type; declaring it with
// another type fails with a broker error (PRECONDITION_FAILED).
func WithQueueType(t QueueType) Option {
	return Option{"WithQueueType", func(c *config) { c.queueType, c.queueTypeSet = t, true }}
}

// WithPrefetch sets how many unacknowledged deliveries the broker may push
// to one subscription (basic.qos prefetch count), 1..65535. A prefetch
// below the core's batch (transport.WithBatch) makes batches smaller.
// Default: twice the core's batch (512 with the default batch of 256), at
// most 65535.
func WithPrefetch(n int) Option {
	return Option{"WithPrefetch", func(c *config) {
		if n < 1 || n > math.MaxUint16 {
			c.invalid("WithPrefetch", n, "must be in 1..65535")
		}
		c.prefetch = n
	}}
}

// WithDeliveryLimit sets the quorum queue's x-delivery-limit: how often a
// message may be returned to the queue (given back by a stopping
// subscription, or its consumer's channel closed before the ack; a
// handler's nack is redelivered in-process by the core and does not count) before the broker drops it or, with
// WithDeadLetterExchange, dead-letters it. n >= 1, or NoDeliveryLimit.
// Quorum queues only. Default: 20 (RabbitMQ 4's own default).
func WithDeliveryLimit(n int) Option {
	return Option{"WithDeliveryLimit", func(c *config) {
		if (n < 1 || n > MaxDeliveryLimit) && n != NoDeliveryLimit {
			c.invalid("WithDeliveryLimit", n, fmt.Sprintf("must be in 1..%d, or NoDeliveryLimit", MaxDeliveryLimit))
		}
		c.deliveryLimit, c.limitSet = n, true
	}}
}

// WithDeadLetterExchange sets x-dead-letter-exchange on subscription queues
// and declares that exchange (durable, topic). Messages over the delivery
// limit are then republished there by the broker with their original
// routing key and headers plus an x-death header, instead of being dropped.
// Bind a queue to it to keep them. Default: none (such messages are
// dropped).
func WithDeadLetterExchange(name string) Option {
	return Option{"WithDeadLetterExchange", func(c *config) { c.deadLetter = name }}
}

// WithMaxPriority declares subscription queues with x-max-priority n
// (1..255; RabbitMQ advises at most 10) so that messages with a higher
// MetaPriority are delivered first. Priorities need classic queues: this
// option selects QueueClassic and is rejected together with
// WithQueueType(QueueQuorum). Default: no priorities.
func WithMaxPriority(n int) Option {
	return Option{"WithMaxPriority", func(c *config) {
		if n < 1 || n > math.MaxUint8 {
			c.invalid("WithMaxPriority", n, "must be in 1..255")
		}
		c.maxPriority = n
	}}
}

// WithMandatory publishes with the mandatory flag: a message that no queue
// is bound for is returned by the broker, and SendBatch fails it with an
// error wrapping ErrUnroutable (in a *driver.SendError), instead of the
// broker dropping it silently. Needs confirms. Each SendBatch call then
// has one of the WithPublishChannels channels to itself. Default: off
// (a message routed nowhere is dropped, as on any topic exchange).
func WithMandatory() Option {
	return Option{"WithMandatory", func(c *config) { c.mandatory = true }}
}

// WithoutConfirms turns publisher confirms off: SendBatch returns once the
// messages are written to the socket, and a broker or network failure may
// lose them silently. Default: confirms on.
func WithoutConfirms() Option {
	return Option{"WithoutConfirms", func(c *config) { c.confirms = false }}
}

// WithPublishTimeout bounds one SendBatch call (waiting for a connection,
// writing, waiting for the confirms) in addition to its ctx.
// MinPublishTimeout..MaxPublishTimeout; default 30s.
func WithPublishTimeout(d time.Duration) Option {
	return Option{"WithPublishTimeout", func(c *config) {
		if d < MinPublishTimeout || d > MaxPublishTimeout {
			c.invalid("WithPublishTimeout", d, fmt.Sprintf("must be in %s..%s", MinPublishTimeout, MaxPublishTimeout))
		}
		c.publishTimeout = d
	}}
}

// WithPublishChannels sets how many confirm-mode AMQP channels concurrent
// SendBatch calls share (each call publishes all its messages on one
// channel, so per-key order within a call holds). 1..MaxPublishChannels;
// default DefaultPublishChannels (2).
func WithPublishChannels(n int) Option {
	return Option{"WithPublishChannels", func(c *config) {
		if n < 1 || n > MaxPublishChannels {
			c.invalid("WithPublishChannels", n, fmt.Sprintf("must be in 1..%d", MaxPublishChannels))
		}
		c.pubChannels = n
	}}
}

// WithMaxMessageSize states the broker's max_message_size in bytes, for a
// broker configured with another value than its version's default (which
// AMQP does not announce): 1..MaxMaxMessageSize. Default: 128 MiB for
// RabbitMQ 3.8 to 3.13, 16 MiB for RabbitMQ 4 and for an unknown version.
func WithMaxMessageSize(n int) Option {
	return Option{"WithMaxMessageSize", func(c *config) {
		if n < 1 || n > MaxMaxMessageSize {
			c.invalid("WithMaxMessageSize", n, fmt.Sprintf("must be in 1..%d", MaxMaxMessageSize))
		}
		c.maxMessageSize = n
	}}
}

// WithTLSConfig sets the TLS configuration of amqps:// connections (it is
// cloned). Default: the system roots and the URL's host as server name.
func WithTLSConfig(cfg *tls.Config) Option {
	return Option{"WithTLSConfig", func(c *config) {
		if cfg == nil {
			c.invalid("WithTLSConfig", "nil", "must not be nil")
			return
		}
		c.tlsConfig = cfg.Clone()
	}}
}

// WithCAFile trusts the PEM certificates in path (instead of the system
// roots) for amqps:// connections. The file is read by New. Default: system
// roots.
func WithCAFile(path string) Option {
	return Option{"WithCAFile", func(c *config) {
		if path == "" {
			c.invalid("WithCAFile", path, "must not be empty")
		}
		c.caFile = path
	}}
}

// WithLogger sets the logger for connection losses and reconnects of the
// driver (the core has its own: transport.WithLogger).
// Default: slog.Default(). A nil logger is invalid; use
// slog.New(slog.DiscardHandler) to silence it.
func WithLogger(l *slog.Logger) Option {
	return Option{"WithLogger", func(c *config) {
		if l == nil {
			c.invalid("WithLogger", "nil", "must not be nil")
		}
		c.logger = l
	}}
}
