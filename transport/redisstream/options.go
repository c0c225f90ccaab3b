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

// Defaults and bounds of the options. The URL query parameter of each
// option is named in its doc.
const (
	DefaultPrefix = "tradebus:"
	MaxPrefixLen  = 256

	DefaultMaxLen int64 = 0 // no trimming: nothing is lost by default
	MaxMaxLen     int64 = 1 << 40

	DefaultClaimIdle = 30 * time.Second
	MinClaimIdle     = 10 * time.Millisecond
	MaxClaimIdle     = 24 * time.Hour

	DefaultBlock = time.Second
	MinBlock     = time.Millisecond
	MaxBlock     = time.Minute

	MaxConsumerNameLen = 200
)

type config struct {
	prefix    string
	start     Start
	maxLen    int64
	claimIdle time.Duration
	block     time.Duration
	consumer  string
	logger    *slog.Logger
}

func defaultConfig() config {
	return config{
		prefix:    DefaultPrefix,
		start:     StartNew,
		maxLen:    DefaultMaxLen,
		claimIdle: DefaultClaimIdle,
		block:     DefaultBlock,
	}
}

func (c *config) complete() {
	if c.consumer == "" {
		c.consumer = defaultConsumerName()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
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

// Option configures a Driver. Options are applied in order by NewDriver.
type Option func(*config) error

// WithPrefix sets the prefix of stream names: events of kind k go to the
// stream prefix+k ("tradebus:trade"). Use one prefix per environment or
// tenant sharing a Redis. 1 to MaxPrefixLen bytes without white space.
// Default: "tradebus:" (DefaultPrefix). URL: prefix=P.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" || len(prefix) > MaxPrefixLen || strings.ContainsAny(prefix, " \t\r\n") {
			return fmt.Errorf("%w: prefix %q, want 1 to %d bytes without white space", ErrInvalidOption, prefix, MaxPrefixLen)
		}
		c.prefix = prefix
		return nil
	}
}

// WithStart sets where a consumer group starts when it is created (by the
// first Subscribe or SubscribeInitialize of that group and pattern). An
// existing group keeps its position. Default: StartNew. URL:
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

// WithMaxLen bounds every stream to about n entries (XADD MAXLEN ~ n):
// Redis drops the oldest entries as new ones arrive. This is a loss point:
// an entry trimmed before every group has read and acked it is gone, for a
// group that lags more than n events behind as well as for a pending entry
// of a dead consumer that has not been claimed yet. 0 disables trimming
// (the stream grows until Redis runs out of memory, because acked entries
// are not deleted; trim on your own schedule, or set n with room for the
// slowest group). 0 to MaxMaxLen. Default: 0 (DefaultMaxLen), the safe
// promise: no entry is ever trimmed by tradebus.
// URL: maxlen=N.
func WithMaxLen(n int64) Option {
	return func(c *config) error {
		if n < 0 || n > MaxMaxLen {
			return fmt.Errorf("%w: max len %d, want 0 to %d", ErrInvalidOption, n, MaxMaxLen)
		}
		c.maxLen = n
		return nil
	}
}

// WithClaimIdle sets how long a delivered entry may stay unacknowledged by
// a consumer that stopped renewing it before another consumer of the group
// claims it (XAUTOCLAIM, every d/2). A live subscription renews its own
// in-flight entries every d/3, so slow handlers are not robbed; a crashed
// one loses them after d. MinClaimIdle (10ms) to MaxClaimIdle (24h).
// Default: 30s (DefaultClaimIdle). URL: claim_idle=D.
func WithClaimIdle(d time.Duration) Option {
	return func(c *config) error {
		if d < MinClaimIdle || d > MaxClaimIdle {
			return fmt.Errorf("%w: claim idle %s, want %s to %s", ErrInvalidOption, d, MinClaimIdle, MaxClaimIdle)
		}
		c.claimIdle = d
		return nil
	}
}

// WithBlock sets how long one XREADGROUP waits for new entries. It bounds
// how long stopping a subscription waits for its pending read; it does not
// delay delivery, which happens as soon as an entry arrives. MinBlock (1ms)
// to MaxBlock (1m). Default: 1s (DefaultBlock). URL: block=D.
func WithBlock(d time.Duration) Option {
	return func(c *config) error {
		if d < MinBlock || d > MaxBlock {
			return fmt.Errorf("%w: block %s, want %s to %s", ErrInvalidOption, d, MinBlock, MaxBlock)
		}
		c.block = d
		return nil
	}
}

// WithConsumerName sets the base name of this process' consumers in their
// groups. A name that is stable across restarts lets a restarted process
// re-read its own pending entries at once instead of waiting for another
// consumer to claim them after WithClaimIdle; two live subscriptions of
// one group and pattern on one Driver get distinct names ("name-2"). 1 to
// MaxConsumerNameLen bytes without white space. Default:
// "<hostname>-<pid>-<random>". URL: consumer=NAME.
func WithConsumerName(name string) Option {
	return func(c *config) error {
		if name == "" || len(name) > MaxConsumerNameLen || strings.ContainsAny(name, " \t\r\n") {
			return fmt.Errorf("%w: consumer name %q, want 1 to %d bytes without white space", ErrInvalidOption, name, MaxConsumerNameLen)
		}
		c.consumer = name
		return nil
	}
}

// WithLogger sets the logger of the driver's own background work (the
// heartbeat that renews in-flight entries, and claims of trimmed entries).
// It must not be nil. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}
