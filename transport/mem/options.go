package mem

import (
	"fmt"
	"time"
)

// Overflow selects what Publish does when a subscription queue is full.
// The zero value is OverflowBlock.
type Overflow int

const (
	// OverflowBlock makes Publish wait for room until the message's context
	// (msg.Context()) is done. It is the default.
	OverflowBlock Overflow = iota
	// OverflowFail makes Publish return a *BufferFullError at once.
	OverflowFail
)

func (o Overflow) String() string {
	switch o {
	case OverflowBlock:
		return "block"
	case OverflowFail:
		return "fail"
	default:
		return fmt.Sprintf("Overflow(%d)", int(o))
	}
}

// Defaults of the options.
const (
	DefaultConcurrency          = 64
	DefaultBuffer               = 1024
	DefaultRedeliveryBackoff    = 10 * time.Millisecond
	DefaultRedeliveryBackoffMax = time.Second
	redeliveryBackoffMultiplier = 2
	maxRouteCacheEntries        = 4096
)

type config struct {
	concurrency int
	buffer      int
	overflow    Overflow
	backoff     time.Duration
	backoffMax  time.Duration
}

func defaultConfig() config {
	return config{
		concurrency: DefaultConcurrency,
		buffer:      DefaultBuffer,
		overflow:    OverflowBlock,
		backoff:     DefaultRedeliveryBackoff,
		backoffMax:  DefaultRedeliveryBackoffMax,
	}
}

func (c *config) validate() error {
	if c.backoffMax < c.backoff {
		return fmt.Errorf("%w: redelivery backoff max %s < initial %s", ErrInvalidOption, c.backoffMax, c.backoff)
	}
	return nil
}

// Option configures a Transport. Options are applied in order by New.
type Option func(*config) error

// WithConcurrency sets how many messages of one subscription queue (one
// consumer group + pattern, shared by all its members) may be in flight at
// once: delivered and not yet acked, nacked and waiting for redelivery, or
// waiting for a member. Messages with the same "partitionkey" metadata are
// never in flight at the same time, so each key keeps its order. 1 hands
// out one message at a time, like Watermill's GoChannel. n must be >= 1.
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

// WithBuffer sets the capacity of each subscription queue: how many
// published messages it holds before they are handed to the key-ordered
// dispatcher (which holds up to WithConcurrency more). When a queue is full,
// Publish waits or fails per WithOverflow. n must be >= 1.
// Default: 1024 (DefaultBuffer).
func WithBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: buffer %d, want >= 1", ErrInvalidOption, n)
		}
		c.buffer = n
		return nil
	}
}

// WithOverflow sets what Publish does when a subscription queue is full.
// Default: OverflowBlock.
func WithOverflow(o Overflow) Option {
	return func(c *config) error {
		if o != OverflowBlock && o != OverflowFail {
			return fmt.Errorf("%w: overflow %v", ErrInvalidOption, o)
		}
		c.overflow = o
		return nil
	}
}

// WithRedeliveryBackoff sets the delay before a nacked message is delivered
// again: initial after the first nack, doubling after each further nack of
// the same message, capped at max. Both must be > 0 and max >= initial.
// Default: 10ms initial, 1s max (DefaultRedeliveryBackoff,
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
