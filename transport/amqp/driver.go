package amqp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// Driver is a RabbitMQ connection pair (one connection for publishing, one
// for consuming) implementing driver.Driver: run it on tradebus' portable
// core with transport.New(drv, …), or open both with transport.Open. It is
// safe for concurrent use. The zero value is not usable; call NewDriver or
// Open.
type Driver struct {
	cfg      config
	redacted string
	pubConn  *connector
	subConn  *connector
	topic    *topic
	done     chan struct{} // closed by Close

	closeOnce sync.Once
	closeErr  error
}

var _ driver.Driver = (*Driver)(nil)

// nativeParams are the URL query parameters amqp091-go itself understands;
// they are passed through.
var nativeParams = map[string]bool{
	"heartbeat": true, "connection_timeout": true, "channel_max": true, "auth_mechanism": true,
	"certfile": true, "keyfile": true, "cacertfile": true, "server_name_indication": true,
}

// coreParams are the query parameters of transport.Open (the core's). A
// URL given to NewDriver must not have them: they mean nothing to the
// driver.
var coreParams = map[string]bool{
	"concurrency": true, "batch": true, "redelivery_backoff": true,
	"redelivery_backoff_max": true, "close_timeout": true,
}

// NewDriver returns a Driver for rawURL (amqp://user:pass@host:port/vhost
// or amqps://…). It does not connect: connections are dialled on first use
// and again after they are lost; Connect dials now (Open does).
//
// URL query parameters map to options and are applied before opts:
// exchange, queue_type (quorum|classic), prefetch (1..65535),
// delivery_limit (1..MaxDeliveryLimit or "none"), dead_letter_exchange,
// max_priority (1..255), confirms (true|false), mandatory (true|false),
// publish_timeout (a Go
// duration, MinPublishTimeout..MaxPublishTimeout), publish_channels
// (1..MaxPublishChannels), max_message_size (bytes), ca (a PEM file, see
// WithCAFile). amqp091-go's own parameters (heartbeat, connection_timeout,
// channel_max, auth_mechanism, certfile, keyfile, cacertfile,
// server_name_indication) pass through. Any other parameter (the core's
// concurrency, batch, … included: give those to transport.Open or as
// transport Options), and any invalid option, is an error wrapping
// ErrInvalidOption. Errors never contain the password.
func NewDriver(rawURL string, opts ...Option) (*Driver, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%w: malformed AMQP URL: %v", ErrInvalidOption, err)
	}
	return newDriver(u, opts)
}

// Open is the opener transport.Open uses for amqp:// and amqps:// URLs: it
// is NewDriver for u (which holds only the driver's own query parameters)
// followed by Connect, so that a bad address or credentials fail here and
// the Capabilities state the limits the broker negotiated.
func Open(ctx context.Context, u *url.URL) (driver.Driver, error) {
	return open(ctx, u, nil)
}

func open(ctx context.Context, u *url.URL, opts []Option) (driver.Driver, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	d, err := newDriver(u, opts)
	if err != nil {
		return nil, err
	}
	if err := d.Connect(ctx); err != nil {
		_ = d.Close(ctx)
		return nil, err
	}
	return d, nil
}

func newDriver(u *url.URL, opts []Option) (*Driver, error) {
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
		if err := urlopt.Once(ErrInvalidOption, key, vals); err != nil {
			return nil, err
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

	d := &Driver{
		cfg:      cfg,
		redacted: redacted,
		done:     make(chan struct{}),
	}
	d.pubConn = newConnector("publish", clean.String(), redacted, &d.cfg)
	d.subConn = newConnector("consume", clean.String(), redacted, &d.cfg)
	d.topic = newTopic(d)
	return d, nil
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

// queryOption maps one URL query parameter to an Option.
func queryOption(key, val string) (Option, error) {
	bad := func(reason string) (Option, error) {
		return Option{}, &OptionError{Option: "query parameter " + key, Value: val, Reason: reason}
	}
	intIn := func(lo, hi int, with func(int) Option) (Option, error) {
		n, err := urlopt.IntIn(ErrInvalidOption, key, val, lo, hi)
		if err != nil {
			return Option{}, err
		}
		return with(n), nil
	}
	switch key {
	case "exchange":
		return WithExchange(val), nil
	case "queue_type":
		return WithQueueType(QueueType(val)), nil
	case "prefetch":
		return intIn(1, maxPrefetch, WithPrefetch)
	case "delivery_limit":
		if val == "none" {
			return WithDeliveryLimit(NoDeliveryLimit), nil
		}
		return intIn(1, MaxDeliveryLimit, WithDeliveryLimit)
	case "dead_letter_exchange":
		return WithDeadLetterExchange(val), nil
	case "max_priority":
		return intIn(1, 255, WithMaxPriority)
	case "publish_channels":
		return intIn(1, MaxPublishChannels, WithPublishChannels)
	case "max_message_size":
		return intIn(1, MaxMaxMessageSize, WithMaxMessageSize)
	case "confirms":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return bad("not a boolean")
		}
		if b {
			return Option{"confirms", func(*config) {}}, nil
		}
		return WithoutConfirms(), nil
	case "publish_timeout":
		d, err := urlopt.DurationIn(ErrInvalidOption, key, val, MinPublishTimeout, MaxPublishTimeout)
		if err != nil {
			return Option{}, err
		}
		return WithPublishTimeout(d), nil
	case "mandatory":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return bad("not a boolean")
		}
		if b {
			return WithMandatory(), nil
		}
		return Option{"mandatory", func(*config) {}}, nil
	case "ca":
		return WithCAFile(val), nil
	default:
		if coreParams[key] {
			return bad("a parameter of transport.Open, not of the driver (use the transport's Options)")
		}
		return bad("unknown parameter")
	}
}

// Connect dials the publishing connection now (one attempt, bounded by ctx)
// and declares the exchange, so that a bad address or credentials show up
// before the first publish, and Capabilities states the limits the broker
// negotiated. Connections are otherwise dialled on first use.
func (d *Driver) Connect(ctx context.Context) error {
	if _, err := d.pubConn.tryConnect(ctx); err != nil {
		return err
	}
	return d.topic.channel(ctx, 0)
}

// String describes the driver without credentials.
func (d *Driver) String() string {
	return fmt.Sprintf("amqp driver %s exchange %q", d.redacted, d.cfg.exchange)
}

// Exchange returns the name of the topic exchange.
func (d *Driver) Exchange() string { return d.cfg.exchange }

// QueueName returns the name of the durable queue that consumer group group
// consumes for subscription pattern pattern: "<exchange>.<group>.<pattern>".
// Group and exchange are single segments, so the name is unambiguous.
func (d *Driver) QueueName(group, pattern string) string {
	return d.cfg.exchange + "." + group + "." + pattern
}

// Topic returns the driver's Topic.
func (d *Driver) Topic() driver.Topic { return d.topic }

// headerMargin is what MaxHeaderBytes leaves of a frame for what the core
// does not count as metadata: the frame and content-header overhead (22
// bytes), the table length, the per-entry overhead of string headers (6
// bytes each: 256 entries take 1536) and the properties that repeat
// metadata values (message id, content type, correlation id, type: up to
// 4 × 256 bytes), timestamp, delivery mode and priority.
const headerMargin = 4096

// Capabilities states the driver's limits and guarantees:
//   - MaxHeaderBytes: a content-header frame must fit one AMQP frame, whose
//     size (frame_max) is negotiated when connecting (RabbitMQ's default
//     131072, amqp091-go asks for the same); headerMargin bytes of it are
//     kept for the overhead. Before the first connection, the size the
//     client asks for is used (the broker can only lower it; SendBatch
//     checks every header frame exactly and rejects a message whose header
//     does not fit with an error wrapping transport.ErrTooLarge).
//   - MaxMessageBytes: RabbitMQ's max_message_size, which AMQP does not
//     announce: WithMaxMessageSize if given, else the documented default of
//     the broker version the connection reports — 512 MiB before 3.8, 128
//     MiB for 3.8 to 3.13, 16 MiB from 4.0 (rabbitmq-server #11455) — and
//     16 MiB before the first connection.
//   - durable, shared groups (a group is one durable queue), no history (a
//     new queue starts empty), no order across the members of a group,
//     redelivery of what was not acked.
func (d *Driver) Capabilities() driver.Capabilities {
	frame, version := d.pubConn.negotiated()
	maxHeader := frame - headerMargin
	if frame < 2*headerMargin {
		maxHeader = frame / 2
	}
	maxMsg := d.cfg.maxMessageSize
	if maxMsg == 0 {
		maxMsg = defaultMaxMessageSize(version)
	}
	return driver.Capabilities{
		Name:               "amqp",
		MaxMessageBytes:    maxMsg,
		MaxHeaderBytes:     maxHeader,
		KeepsHistory:       false,
		DurableGroups:      true,
		SharedGroups:       true,
		OrderAcrossMembers: false,
		Redelivers:         true,
	}
}

// defaultMaxMessageSize is RabbitMQ's default max_message_size for a broker
// version ("3.10.8"); "" or unparsable means unknown, and gets the
// smallest default.
func defaultMaxMessageSize(version string) int {
	major, rest, _ := strings.Cut(version, ".")
	minorS, _, _ := strings.Cut(rest, ".")
	maj, err1 := strconv.Atoi(major)
	minor, err2 := strconv.Atoi(minorS)
	switch {
	case err1 != nil || err2 != nil || maj >= 4:
		return 16 << 20
	case maj < 3 || (maj == 3 && minor < 8):
		return 512 << 20
	default:
		return 128 << 20
	}
}

// Close closes both connections: publishes and subscriptions still running
// fail, unacked deliveries return to their queues. It is idempotent.
func (d *Driver) Close(context.Context) error {
	d.closeOnce.Do(func() {
		close(d.done)
		d.closeErr = errors.Join(d.pubConn.close(), d.subConn.close())
	})
	return d.closeErr
}

func (d *Driver) isClosed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// checkQueue returns the queue name of (group, pattern), which the core
// has validated, or an error if it is longer than RabbitMQ allows.
func (d *Driver) checkQueue(group, pattern string) (string, error) {
	q := d.QueueName(group, pattern)
	if len(q) > maxQueueName {
		return "", fmt.Errorf("%w: queue name %q is longer than %d bytes", ErrInvalidOption, q, maxQueueName)
	}
	return q, nil
}

// Prepare declares the group's queue for pattern and binds it, without
// consuming, so that messages published from now on are kept for the
// group. It makes one connection attempt, bounded by ctx.
func (d *Driver) Prepare(ctx context.Context, group, pattern string) error {
	queue, err := d.checkQueue(group, pattern)
	if err != nil {
		return err
	}
	conn, err := d.subConn.tryConnect(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("%w: open channel: %w", ErrConnection, err)
	}
	defer func() { _ = ch.Close() }()
	return d.declareSubscription(ch, queue, pattern)
}

// maxPrefetch is the largest basic.qos prefetch count.
const maxPrefetch = 65535
