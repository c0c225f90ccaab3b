package nats

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Start selects where a durable consumer that does not exist yet starts
// in its stream. The zero value is StartNew.
type Start int

const (
	// StartNew creates a consumer that receives events published after it
	// was first created (DeliverNew), like a RabbitMQ queue bound on first
	// subscribe. It is the default.
	StartNew Start = iota
	// StartOldest creates a consumer that also receives every event still
	// retained in the stream (DeliverAll).
	StartOldest
)

func (s Start) String() string {
	switch s {
	case StartNew:
		return "new"
	case StartOldest:
		return "oldest"
	default:
		return fmt.Sprintf("Start(%d)", int(s))
	}
}

func (s Start) policy() jetstream.DeliverPolicy {
	if s == StartOldest {
		return jetstream.DeliverAllPolicy
	}
	return jetstream.DeliverNewPolicy
}

// Storage selects where JetStream keeps the streams the transport creates.
// The zero value is FileStorage.
type Storage int

const (
	// FileStorage keeps streams on disk: they survive a server restart. It
	// is the default.
	FileStorage Storage = iota
	// MemoryStorage keeps streams in memory: faster, lost on restart.
	MemoryStorage
)

func (s Storage) String() string {
	switch s {
	case FileStorage:
		return "file"
	case MemoryStorage:
		return "memory"
	default:
		return fmt.Sprintf("Storage(%d)", int(s))
	}
}

// Defaults and bounds of the options. The URL query parameter of each
// option is named in its doc; Open checks the same bounds.
const (
	DefaultPrefix              = "tradebus"
	DefaultAckWait             = 30 * time.Second
	MinAckWait                 = 100 * time.Millisecond
	MaxAckWait                 = 24 * time.Hour
	DefaultMaxDeliver          = -1
	MaxMaxDeliver              = 1_000_000
	DefaultMaxAckPending       = 1024
	MaxMaxAckPending           = 1_000_000
	DefaultMaxMsgs       int64 = 1_000_000
	MaxMaxMsgs           int64 = 1 << 40
	DefaultReplicas            = 1
	MaxReplicas                = 5
	MaxMaxAge                  = 100 * 365 * 24 * time.Hour
	MaxDuplicateWindow         = 7 * 24 * time.Hour
	DefaultPullWait            = time.Second
	MinPullWait                = 10 * time.Millisecond
	MaxPullWait                = time.Minute
)

type config struct {
	prefix        string
	start         Start
	ackWait       time.Duration
	maxDeliver    int
	maxAckPending int
	storage       Storage
	maxMsgs       int64
	maxAge        time.Duration
	replicas      int
	dupWindow     time.Duration
	pullWait      time.Duration
	logger        *slog.Logger
}

func defaultConfig() config {
	return config{
		prefix:        DefaultPrefix,
		start:         StartNew,
		ackWait:       DefaultAckWait,
		maxDeliver:    DefaultMaxDeliver,
		maxAckPending: DefaultMaxAckPending,
		storage:       FileStorage,
		maxMsgs:       DefaultMaxMsgs,
		replicas:      DefaultReplicas,
		pullWait:      DefaultPullWait,
	}
}

// Option configures a Driver. Options are applied in order by NewDriver.
// Concurrency, batch size, redelivery backoff and close timeout are the
// portable core's (transport.WithConcurrency, …), not the driver's.
type Option func(*config) error

// WithPrefix sets the subject prefix: routing key k travels on subject
// prefix+"."+k ("tradebus.trade.binance.BTCUSDT") and events of kind x are
// kept in the stream named after prefix and x ("tradebus_trade"). Use one
// prefix per environment or tenant sharing a server. It must be one or
// more valid subject tokens (no '*', '>' or white space, no empty token).
// Default: "tradebus" (DefaultPrefix). URL: prefix=P.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		for _, tok := range strings.Split(prefix, ".") {
			if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
				return fmt.Errorf("%w: prefix %q, want subject tokens", ErrInvalidOption, prefix)
			}
		}
		c.prefix = prefix
		return nil
	}
}

// WithStart sets where a durable consumer starts when it is created (by the
// first Subscribe or SubscribeInitialize of its group and pattern). An
// existing consumer keeps its position. Default: StartNew. URL:
// start=new|oldest.
func WithStart(s Start) Option {
	return func(c *config) error {
		if s != StartNew && s != StartOldest {
			return fmt.Errorf("%w: start %v", ErrInvalidOption, s)
		}
		c.start = s
		return nil
	}
}

// WithAckWait sets the consumers' AckWait: how long JetStream waits for
// the ack of a delivered message before it delivers it again. A live
// subscription tells JetStream every d/3 that the messages it holds
// (queued, with a handler, or waiting for the core's redelivery backoff
// after a nack) are in progress, so neither a slow handler nor a long
// backoff causes a redelivery. A crashed member's messages go to another
// member after d while other members live; a member subscribing when none
// lives takes them over at once (see the package doc, After a crash).
// MinAckWait to MaxAckWait; default 30s (DefaultAckWait).
// URL: ack_wait=D.
func WithAckWait(d time.Duration) Option {
	return func(c *config) error {
		if d < MinAckWait || d > MaxAckWait {
			return fmt.Errorf("%w: ack wait %s, want %s to %s", ErrInvalidOption, d, MinAckWait, MaxAckWait)
		}
		c.ackWait = d
		return nil
	}
}

// WithMaxDeliver sets the consumers' MaxDeliver: how many times JetStream
// delivers one message. When the last delivery is given back or not acked
// within WithAckWait, JetStream stops delivering it — it stays in the
// stream — and publishes the advisory
// $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer> with its
// stream sequence: that is the dead-letter hand-off (read the message with
// Stream.GetMsg). Redeliveries after a handler's nack are the core's, in
// process, and do not count. n must be -1 (unlimited) or 1 to
// MaxMaxDeliver. Default: -1 (DefaultMaxDeliver). URL: max_deliver=N.
func WithMaxDeliver(n int) Option {
	return func(c *config) error {
		if n != -1 && (n < 1 || n > MaxMaxDeliver) {
			return fmt.Errorf("%w: max deliver %d, want -1 or 1 to %d", ErrInvalidOption, n, MaxMaxDeliver)
		}
		c.maxDeliver = n
		return nil
	}
}

// WithMaxAckPending sets the consumers' MaxAckPending: how many messages
// JetStream lets all members of one group hold unacked. A subscription
// holds up to the core's concurrency plus one batch (plus what waits for
// an ack to be sent); a smaller value only slows delivery down. 1 to
// MaxMaxAckPending; default 1024 (DefaultMaxAckPending). URL:
// max_ack_pending=N.
func WithMaxAckPending(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxMaxAckPending {
			return fmt.Errorf("%w: max ack pending %d, want 1 to %d", ErrInvalidOption, n, MaxMaxAckPending)
		}
		c.maxAckPending = n
		return nil
	}
}

// WithStorage sets the storage of the streams the driver creates.
// Default: FileStorage. URL: storage=file|memory.
func WithStorage(s Storage) Option {
	return func(c *config) error {
		if s != FileStorage && s != MemoryStorage {
			return fmt.Errorf("%w: storage %v", ErrInvalidOption, s)
		}
		c.storage = s
		return nil
	}
}

// WithMaxMsgs bounds every stream (one per kind) to n messages; JetStream
// discards the oldest. This is a loss point: a group that lags further
// behind loses the discarded messages. -1 means unlimited. n must be -1 or
// 1 to MaxMaxMsgs. Default: 1,000,000 (DefaultMaxMsgs). URL: max_msgs=N.
func WithMaxMsgs(n int64) Option {
	return func(c *config) error {
		if n != -1 && (n < 1 || n > MaxMaxMsgs) {
			return fmt.Errorf("%w: max msgs %d, want -1 or 1 to %d", ErrInvalidOption, n, MaxMaxMsgs)
		}
		c.maxMsgs = n
		return nil
	}
}

// WithMaxAge bounds how long streams keep messages; older ones are
// discarded (a loss point like WithMaxMsgs). 0 means unlimited. d must be
// 0 or 1s to MaxMaxAge. Default: 0. URL: max_age=D.
func WithMaxAge(d time.Duration) Option {
	return func(c *config) error {
		if d != 0 && (d < time.Second || d > MaxMaxAge) {
			return fmt.Errorf("%w: max age %s, want 0 or 1s to %s", ErrInvalidOption, d, MaxMaxAge)
		}
		c.maxAge = d
		return nil
	}
}

// WithReplicas sets the replicas of the streams the driver creates (a
// clustered JetStream). 1 to MaxReplicas (5). Default: 1
// (DefaultReplicas). URL: replicas=N.
func WithReplicas(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxReplicas {
			return fmt.Errorf("%w: replicas %d, want 1 to %d", ErrInvalidOption, n, MaxReplicas)
		}
		c.replicas = n
		return nil
	}
}

// WithDuplicateWindow makes publishing send the message UUID as
// Nats-Msg-Id and sets the streams' duplicate window to d: JetStream then
// stores a message published twice within d (a retried Publish) once. Off
// by default because it also drops a deliberate re-publish of the same
// UUID within d (a replayed dead letter, say). 0 (off) to
// MaxDuplicateWindow. Default: 0. URL: duplicate_window=D.
func WithDuplicateWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > MaxDuplicateWindow {
			return fmt.Errorf("%w: duplicate window %s, want 0 to %s", ErrInvalidOption, d, MaxDuplicateWindow)
		}
		c.dupWindow = d
		return nil
	}
}

// WithPullWait sets how long one pull request waits for messages. A
// subscription keeps one or two requests open and reads them to their end
// before it closes (a JetStream pull request cannot be withdrawn, and a
// message delivered into one nobody reads waits out WithAckWait), so d
// bounds how long closing a subscription takes; an idle subscription sends
// one request per d. It does not delay delivery. MinPullWait to
// MaxPullWait; default 1s (DefaultPullWait). URL: pull_wait=D.
func WithPullWait(d time.Duration) Option {
	return func(c *config) error {
		if d < MinPullWait || d > MaxPullWait {
			return fmt.Errorf("%w: pull wait %s, want %s to %s", ErrInvalidOption, d, MinPullWait, MaxPullWait)
		}
		c.pullWait = d
		return nil
	}
}

// WithLogger sets the logger of the connection's disconnect and reconnect
// events (Open) and of failures the driver cannot report to a caller. It
// must not be nil. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}
