package redisstream

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Start selects where a consumer group that does not exist yet starts
// reading its stream. The zero value is StartNew.
type Start int

const (
	// StartNew creates a group at the end of the stream ("$"): it receives
	// events published after it was first created, like a RabbitMQ queue
	// that is bound on first subscribe. It is the default.
	StartNew Start = iota
	// StartOldest creates a group at the beginning ("0"): it also receives
	// every event still retained in the stream (see WithMaxLen).
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

func (s Start) id() string {
	if s == StartOldest {
		return "0"
	}
	return "$"
}

// Defaults of the options.
const (
	DefaultPrefix                     = "tradebus:"
	DefaultConcurrency                = 64
	DefaultMaxLen               int64 = 1_000_000
	DefaultClaimIdle                  = 30 * time.Second
	DefaultBlock                      = time.Second
	DefaultRedeliveryBackoff          = 10 * time.Millisecond
	DefaultRedeliveryBackoffMax       = time.Second
	DefaultCloseTimeout               = 5 * time.Second

	// COUNT of one XREADGROUP / XAUTOCLAIM: WithConcurrency within these.
	minReadCount = 32
	maxReadCount = 512
)

type config struct {
	prefix       string
	concurrency  int
	start        Start
	maxLen       int64
	claimIdle    time.Duration
	block        time.Duration
	consumer     string
	backoff      time.Duration
	backoffMax   time.Duration
	closeTimeout time.Duration
	logger       *slog.Logger
}

func defaultConfig() config {
	return config{
		prefix:       DefaultPrefix,
		concurrency:  DefaultConcurrency,
		start:        StartNew,
		maxLen:       DefaultMaxLen,
		claimIdle:    DefaultClaimIdle,
		block:        DefaultBlock,
		backoff:      DefaultRedeliveryBackoff,
		backoffMax:   DefaultRedeliveryBackoffMax,
		closeTimeout: DefaultCloseTimeout,
	}
}

func (c *config) validate() error {
	if c.backoffMax < c.backoff {
		return fmt.Errorf("%w: redelivery backoff max %s < initial %s", ErrInvalidOption, c.backoffMax, c.backoff)
	}
	if c.consumer == "" {
		c.consumer = defaultConsumerName()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return nil
}

// readCount is COUNT of one read: enough to keep every lane busy, and a
// small read-ahead even at concurrency 1, so that one message does not
// cost one round trip. Entries read ahead are this consumer's (pending,
// renewed by the heartbeat) until handed out.
func (c *config) readCount() int64 {
	return int64(min(max(c.concurrency, minReadCount), maxReadCount))
}

func defaultConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "consumer"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Option configures a Transport. Options are applied in order by New.
type Option func(*config) error

// WithPrefix sets the prefix of stream names: events of kind k go to the
// stream prefix+k ("tradebus:trade"). Use one prefix per environment or
// tenant sharing a Redis. It must not be empty.
// Default: "tradebus:" (DefaultPrefix).
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" || strings.ContainsAny(prefix, " \t\r\n") {
			return fmt.Errorf("%w: prefix %q, want non-empty without white space", ErrInvalidOption, prefix)
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

// WithStart sets where a consumer group starts when it is created (by the
// first Subscribe or SubscribeInitialize of that group and pattern). An
// existing group keeps its position. Default: StartNew.
func WithStart(s Start) Option {
	return func(c *config) error {
		if s != StartNew && s != StartOldest {
			return fmt.Errorf("%w: start %v", ErrInvalidOption, s)
		}
		c.start = s
		return nil
	}
}

// WithMaxLen bounds every stream to about n entries (XADD MAXLEN ~ n):
// Redis drops the oldest entries as new ones arrive. This is a loss point:
// an entry trimmed before every group has read and acked it is gone, for a
// group that lags more than n events behind as well as for a pending entry
// of a dead consumer that has not been claimed yet. 0 disables trimming
// (the stream grows until Redis runs out of memory, because acked entries
// are not deleted). n must be >= 0. Default: 1,000,000 (DefaultMaxLen).
func WithMaxLen(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: max len %d, want >= 0", ErrInvalidOption, n)
		}
		c.maxLen = n
		return nil
	}
}

// WithClaimIdle sets how long a delivered entry may stay unacknowledged by
// a consumer that stopped renewing it before another consumer of the group
// claims it (XAUTOCLAIM). A live subscriber renews its own in-flight
// entries every d/3, so slow handlers are not robbed; a crashed one loses
// them after d. It must be at least 10ms. Default: 30s (DefaultClaimIdle).
func WithClaimIdle(d time.Duration) Option {
	return func(c *config) error {
		if d < 10*time.Millisecond {
			return fmt.Errorf("%w: claim idle %s, want >= 10ms", ErrInvalidOption, d)
		}
		c.claimIdle = d
		return nil
	}
}

// WithBlock sets how long one XREADGROUP waits for new entries. It bounds
// how long closing a subscription waits for its reader; it does not delay
// delivery, which happens as soon as an entry arrives. It must be at least
// 1ms. Default: 1s (DefaultBlock).
func WithBlock(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: block %s, want >= 1ms", ErrInvalidOption, d)
		}
		c.block = d
		return nil
	}
}

// WithConsumerName sets the base name of this process' consumers in their
// groups. A name that is stable across restarts lets a restarted process
// re-read its own pending entries at once instead of waiting for another
// consumer to claim them after WithClaimIdle; two live subscriptions of
// one group and pattern in this Transport get distinct names ("name-2").
// It must not be empty. Default: "<hostname>-<pid>-<random>".
func WithConsumerName(name string) Option {
	return func(c *config) error {
		if name == "" || strings.ContainsAny(name, " \t\r\n") {
			return fmt.Errorf("%w: consumer name %q, want non-empty without white space", ErrInvalidOption, name)
		}
		c.consumer = name
		return nil
	}
}

// WithRedeliveryBackoff sets the delay before a nacked message is handed
// out again: initial after the first nack, doubling after each further
// nack of the same message, capped at max. Both must be > 0 and max >=
// initial. Default: 10ms initial, 1s max (DefaultRedeliveryBackoff,
// DefaultRedeliveryBackoffMax).
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
// or nacked before it gives up on them; they stay pending and are
// delivered again later. Transport.Close uses its ctx instead. d must be
// >= 0. Default: 5s (DefaultCloseTimeout).
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: close timeout %s, want >= 0", ErrInvalidOption, d)
		}
		c.closeTimeout = d
		return nil
	}
}

// WithLogger sets the logger for errors of background loops (a failed
// read, ack or claim is logged once when it starts failing and once when it
// recovers). It must not be nil. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}
