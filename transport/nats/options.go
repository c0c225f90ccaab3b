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

// Defaults of the options.
const (
	DefaultPrefix                     = "tradebus"
	DefaultConcurrency                = 64
	DefaultAckWait                    = 30 * time.Second
	DefaultMaxDeliver                 = -1
	DefaultMaxAckPending              = 1024
	DefaultMaxMsgs              int64 = 1_000_000
	DefaultReplicas                   = 1
	DefaultRedeliveryBackoff          = 10 * time.Millisecond
	DefaultRedeliveryBackoffMax       = time.Second
	DefaultCloseTimeout               = 5 * time.Second
	DefaultPullWait                   = time.Second

	// Messages pulled ahead per subscription: WithConcurrency within these.
	minPull = 32
	maxPull = 512
)

type config struct {
	prefix        string
	concurrency   int
	start         Start
	ackWait       time.Duration
	maxDeliver    int
	maxAckPending int // 0: default, at least concurrency + pull-ahead
	storage       Storage
	maxMsgs       int64
	maxAge        time.Duration
	replicas      int
	dupWindow     time.Duration
	backoff       time.Duration
	backoffMax    time.Duration
	closeTimeout  time.Duration
	pullWait      time.Duration
	logger        *slog.Logger
}

func defaultConfig() config {
	return config{
		prefix:       DefaultPrefix,
		concurrency:  DefaultConcurrency,
		start:        StartNew,
		ackWait:      DefaultAckWait,
		maxDeliver:   DefaultMaxDeliver,
		storage:      FileStorage,
		maxMsgs:      DefaultMaxMsgs,
		replicas:     DefaultReplicas,
		backoff:      DefaultRedeliveryBackoff,
		backoffMax:   DefaultRedeliveryBackoffMax,
		closeTimeout: DefaultCloseTimeout,
		pullWait:     DefaultPullWait,
	}
}

func (c *config) pullAhead() int { return min(max(c.concurrency, minPull), maxPull) }

func (c *config) validate() error {
	if c.backoffMax < c.backoff {
		return fmt.Errorf("%w: redelivery backoff max %s < initial %s", ErrInvalidOption, c.backoffMax, c.backoff)
	}
	need := c.concurrency + c.pullAhead()
	if c.maxAckPending == 0 {
		c.maxAckPending = max(DefaultMaxAckPending, need)
	} else if c.maxAckPending < need {
		return fmt.Errorf("%w: max ack pending %d < concurrency %d + pull-ahead %d", ErrInvalidOption,
			c.maxAckPending, c.concurrency, c.pullAhead())
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return nil
}

// Option configures a Transport. Options are applied in order by New.
type Option func(*config) error

// WithPrefix sets the subject prefix: routing key k travels on subject
// prefix+"."+k ("tradebus.trade.binance.BTCUSDT") and events of kind x are
// kept in the stream named after prefix and x ("tradebus_trade"). Use one
// prefix per environment or tenant sharing a server. It must be one or
// more valid subject tokens (no '*', '>' or white space, no empty token).
// Default: "tradebus" (DefaultPrefix).
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

// WithConcurrency sets how many messages of one subscription may be in
// flight at once (handed to the subscriber's channel or queued for it).
// Messages with the same "partitionkey" metadata are never in flight at the
// same time, so each key keeps its order. 1 hands out one message at a
// time, like Watermill's own subscribers. n must be >= 1.
// Default: 64 (DefaultConcurrency).
func WithConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: concurrency %d, want >= 1", ErrInvalidOption, n)
		}
		c.concurrency = n
		return nil
	}
}

// WithStart sets where a durable consumer starts when it is created (by the
// first Subscribe or SubscribeInitialize of its group and pattern). An
// existing consumer keeps its position. Default: StartNew.
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
// subscriber tells JetStream every d/3 that its in-flight messages are in
// progress, so a slow handler does not cause a redelivery; a crashed one
// loses them to another member after d. d must be >= 100ms.
// Default: 30s (DefaultAckWait).
func WithAckWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 100*time.Millisecond {
			return fmt.Errorf("%w: ack wait %s, want >= 100ms", ErrInvalidOption, d)
		}
		c.ackWait = d
		return nil
	}
}

// WithMaxDeliver sets the consumers' MaxDeliver: how many times JetStream
// delivers one message. When the last delivery is nacked (or not acked
// within WithAckWait), JetStream stops delivering it — it stays in the
// stream — and publishes the advisory
// $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer> with its
// stream sequence: that is the dead-letter hand-off (read the message with
// Stream.GetMsg). Meanwhile later messages flow on. n must be -1
// (unlimited) or >= 1. Default: -1 (DefaultMaxDeliver); tradebus' poison
// queue middleware normally takes failing messages before this limit.
func WithMaxDeliver(n int) Option {
	return func(c *config) error {
		if n != -1 && n < 1 {
			return fmt.Errorf("%w: max deliver %d, want -1 or >= 1", ErrInvalidOption, n)
		}
		c.maxDeliver = n
		return nil
	}
}

// WithMaxAckPending sets the consumers' MaxAckPending: how many messages
// JetStream lets all members of one group hold unacked. It must be at least
// the concurrency plus the pull-ahead of one subscription (min(max(
// concurrency, 32), 512)). Default: 1024 (DefaultMaxAckPending), or that
// minimum if it is larger.
func WithMaxAckPending(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max ack pending %d, want >= 1", ErrInvalidOption, n)
		}
		c.maxAckPending = n
		return nil
	}
}

// WithStorage sets the storage of the streams the transport creates.
// Default: FileStorage.
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
// >= 1. Default: 1,000,000 (DefaultMaxMsgs).
func WithMaxMsgs(n int64) Option {
	return func(c *config) error {
		if n != -1 && n < 1 {
			return fmt.Errorf("%w: max msgs %d, want -1 or >= 1", ErrInvalidOption, n)
		}
		c.maxMsgs = n
		return nil
	}
}

// WithMaxAge bounds how long streams keep messages; older ones are
// discarded (a loss point like WithMaxMsgs). 0 means unlimited. d must be
// 0 or >= 1s. Default: 0.
func WithMaxAge(d time.Duration) Option {
	return func(c *config) error {
		if d != 0 && d < time.Second {
			return fmt.Errorf("%w: max age %s, want 0 or >= 1s", ErrInvalidOption, d)
		}
		c.maxAge = d
		return nil
	}
}

// WithReplicas sets the replicas of the streams the transport creates (a
// clustered JetStream). n must be 1..5. Default: 1 (DefaultReplicas).
func WithReplicas(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 5 {
			return fmt.Errorf("%w: replicas %d, want 1..5", ErrInvalidOption, n)
		}
		c.replicas = n
		return nil
	}
}

// WithDuplicateWindow makes Publish send the message UUID as Nats-Msg-Id
// and sets the streams' duplicate window to d: JetStream then stores a
// message published twice within d (a retried Publish) once. Off by
// default because it also drops a deliberate re-publish of the same UUID
// within d (a replayed dead letter, say). d must be >= 0; 0 turns it off.
// Default: 0.
func WithDuplicateWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: duplicate window %s, want >= 0", ErrInvalidOption, d)
		}
		c.dupWindow = d
		return nil
	}
}

// WithRedeliveryBackoff sets the delay JetStream waits before it delivers a
// nacked message again (NAK with delay): initial after the first delivery,
// doubling with each further delivery of the same message, capped at max.
// Both must be > 0 and max >= initial. Default: 10ms initial, 1s max
// (DefaultRedeliveryBackoff, DefaultRedeliveryBackoffMax).
func WithRedeliveryBackoff(initial, max time.Duration) Option {
	return func(c *config) error {
		if initial <= 0 || max <= 0 {
			return fmt.Errorf("%w: redelivery backoff %s..%s, want > 0", ErrInvalidOption, initial, max)
		}
		c.backoff, c.backoffMax = initial, max
		return nil
	}
}

// WithCloseTimeout sets how long Subscriber.Close (Watermill's Close,
// which has no context) waits for messages already handed out to be acked
// or nacked before it gives them back (NAK) to JetStream. Transport.Close
// uses its ctx instead. d must be >= 0. Default: 5s (DefaultCloseTimeout).
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: close timeout %s, want >= 0", ErrInvalidOption, d)
		}
		c.closeTimeout = d
		return nil
	}
}

// WithPullWait sets how long one pull request waits for messages. A
// subscription keeps one request open at a time and reads it to its end
// before it closes (a JetStream pull request cannot be withdrawn, and a
// message delivered into one nobody reads waits out WithAckWait), so d
// bounds how long closing a subscription waits for its reader; an idle
// subscription sends one request per d. It does not delay delivery. d must
// be >= 10ms. Default: 1s (DefaultPullWait).
func WithPullWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 10*time.Millisecond {
			return fmt.Errorf("%w: pull wait %s, want >= 10ms", ErrInvalidOption, d)
		}
		c.pullWait = d
		return nil
	}
}

// WithLogger sets the logger for errors of background loops (logged once
// when a loop starts failing and once when it recovers). It must not be
// nil. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}
