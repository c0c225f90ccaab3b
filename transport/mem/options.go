package mem

import (
	"fmt"
	"time"

	"github.com/tradebus/tradebus/transport"
)

// Overflow selects what Publish does when a subscription queue is full.
// The zero value is OverflowBlock.
type Overflow int

const (
	// OverflowBlock makes Publish wait for room until its context is done.
	// It is the default.
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

// Defaults and bounds of the options.
const (
	DefaultBuffer        = 1024
	MaxBuffer            = 1 << 20
	MaxHistory           = 1 << 20
	maxRouteCacheEntries = 4096
)

type config struct {
	buffer      int
	overflow    Overflow
	history     int                // messages kept per kind; 0 = none
	maxMessage  int                // driver.Capabilities.MaxMessageBytes; 0 = none
	maxMetadata int                // driver.Capabilities.MaxHeaderBytes; 0 = none
	core        []transport.Option // for transport.New (New only)
}

func defaultConfig() config {
	return config{buffer: DefaultBuffer, overflow: OverflowBlock}
}

// Option configures the in-process broker. Options are applied in order.
type Option func(*config) error

// WithBuffer sets the capacity of each subscription queue: how many
// published messages it holds that no subscription has received yet (each
// subscription holds up to the transport's batch plus concurrency more).
// When a queue is full, Publish waits or fails per WithOverflow. 1 to
// MaxBuffer; default DefaultBuffer (1024). URL: buffer=N.
func WithBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxBuffer {
			return fmt.Errorf("%w: buffer %d, want 1 to %d", ErrInvalidOption, n, MaxBuffer)
		}
		c.buffer = n
		return nil
	}
}

// WithHistory makes the broker keep, per kind (the first segment of the
// routing key: "trade" of "trade.binance.BTCUSDT"), the last n messages
// published, so that transport.Read and transport.Follow work on it as on
// Kafka, Redis Streams and JetStream (see Driver.Read). Every message is
// stored, whether or not a queue matches it, with its Position: Stream
// the kind, Partition 0, Offset its sequence number in the kind in
// decimal, from 1 (per Transport: a new one counts from 1 again). The
// messages a subscription receives carry the same Position in their
// context (transport.PositionFromContext). Groups are unchanged: a queue
// still receives only what is published after it was created.
//
// The history holds one copy of each message, which the queues share
// (payload and metadata are copied once per message either way); when a
// kind holds n messages, storing one evicts the oldest. So it costs
// about n times (message size plus 150 bytes) per kind: at most a seventh
// more, plus 96 KiB, for the buffers small copies share. 0 (the default) keeps none: Read and
// Follow fail with transport.ErrNotReplayable and messages carry no
// Position. 0 to MaxHistory. URL: history=N.
func WithHistory(n int) Option {
	return func(c *config) error {
		if n < 0 || n > MaxHistory {
			return fmt.Errorf("%w: history %d, want 0 (none) to %d", ErrInvalidOption, n, MaxHistory)
		}
		c.history = n
		return nil
	}
}

// WithOverflow sets what Publish does when a subscription queue is full.
// Default: OverflowBlock. URL: overflow=block|fail.
func WithOverflow(o Overflow) Option {
	return func(c *config) error {
		if o != OverflowBlock && o != OverflowFail {
			return fmt.Errorf("%w: overflow %v", ErrInvalidOption, o)
		}
		c.overflow = o
		return nil
	}
}

// MaxLimitBytes bounds WithMessageLimits.
const MaxLimitBytes = 1 << 30

// WithMessageLimits makes the in-process broker refuse, like a real one,
// messages bigger than maxMessage bytes (payload plus metadata) or with
// more than maxMetadata bytes of metadata (keys plus values); 0 means no
// limit. Give it your production broker's limits (RabbitMQ's frame size
// for headers, Kafka's 1 MB, NATS's 1 MB / 64 KB) so that a unit test on
// mem:// finds what would fail there: Publish returns an error wrapping
// transport.ErrTooLarge before anything is queued. 0 to MaxLimitBytes;
// default 0, 0. URL: max_message_bytes=N, max_header_bytes=N.
func WithMessageLimits(maxMessage, maxMetadata int) Option {
	return func(c *config) error {
		if maxMessage < 0 || maxMessage > MaxLimitBytes || maxMetadata < 0 || maxMetadata > MaxLimitBytes {
			return fmt.Errorf("%w: message limits %d, %d: want 0 to %d", ErrInvalidOption, maxMessage, maxMetadata, MaxLimitBytes)
		}
		c.maxMessage, c.maxMetadata = maxMessage, maxMetadata
		return nil
	}
}

// WithConcurrency is transport.WithConcurrency, for New.
func WithConcurrency(n int) Option { return WithTransportOptions(transport.WithConcurrency(n)) }

// WithRedeliveryBackoff is transport.WithRedeliveryBackoff, for New.
func WithRedeliveryBackoff(initial, max time.Duration) Option {
	return WithTransportOptions(transport.WithRedeliveryBackoff(initial, max))
}

// WithTransportOptions passes options of the portable core to
// transport.New, for New (NewDriver rejects it).
func WithTransportOptions(opts ...transport.Option) Option {
	return func(c *config) error {
		c.core = append(c.core, opts...)
		return nil
	}
}
