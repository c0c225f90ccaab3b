package middleware

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// component is a bit set naming the constructors an Option applies to.
type component uint16

const (
	compRetry component = 1 << iota
	compPoison
	compDedup
	compCorrelation
	compRecoverer
	compTimeout
	compReplay
	compList

	compStack = compRetry | compPoison | compDedup | compCorrelation | compRecoverer | compTimeout
)

func (c component) String() string {
	names := []string{"NewRetry", "NewPoison", "NewDedup", "NewCorrelation", "NewRecoverer", "NewTimeout", "Replay", "ListPoisoned"}
	var out []string
	for i, n := range names {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

// Option configures one or more of this package's constructors (NewRetry,
// NewPoison, NewDedup, NewCorrelation, NewRecoverer, NewTimeout, Replay and
// Default). Each option's documentation names the constructors it applies to;
// passing an option to a constructor it does not apply to is rejected with an
// error wrapping ErrInvalidOption, so a misplaced option never goes unnoticed.
// Default accepts every option that applies to one of its components.
//
// The zero Option is invalid.
type Option struct {
	name  string
	scope component
	apply func(*config) error
}

// config holds every setting of every component; each constructor reads the
// fields it needs.
type config struct {
	logger *slog.Logger
	group  string

	// retry
	maxAttempts     int
	initialInterval time.Duration
	maxInterval     time.Duration
	multiplier      float64
	jitter          float64
	maxElapsed      time.Duration
	permanentIf     func(error) bool
	requeuePub      message.Publisher
	maxRequeues     int
	randFloat       func() float64

	// poison
	poisonTopic string
	claims      ClaimStore
	poisonKeep  message.SubscribeInitializer

	// dedup
	store        Store
	dedupTTL     time.Duration
	keyFunc      func(*message.Message) (string, error)
	namespace    string
	storeTimeout time.Duration
	noDedup      bool

	// timeout
	handlerTimeout time.Duration

	// replay
	replayTopic  string
	replayFilter func(Poisoned) bool
	replayLimit  int
	replayIdle   time.Duration
	replayGroup  string
	replayUntil  int
}

// Defaults of the retry middleware.
const (
	DefaultMaxAttempts     = 5
	DefaultInitialInterval = 100 * time.Millisecond
	DefaultMaxInterval     = 5 * time.Second
	DefaultMultiplier      = 2.0
	DefaultJitter          = 0.2
	DefaultMaxElapsed      = 30 * time.Second
	DefaultMaxRequeues     = 3
)

// Defaults of the poison, dedup and replay middleware.
const (
	// DefaultPoisonTopic is the routing key poisoned messages are published to
	// when no consumer group is configured; with WithConsumerGroup(g) the
	// default is DefaultPoisonTopic + "." + g.
	DefaultPoisonTopic  = "deadletter"
	DefaultDedupTTL     = 24 * time.Hour
	DefaultStoreTimeout = 5 * time.Second
	DefaultReplayIdle   = time.Second
)

func defaultConfig() config {
	return config{
		logger:          slog.Default(),
		maxAttempts:     DefaultMaxAttempts,
		initialInterval: DefaultInitialInterval,
		maxInterval:     DefaultMaxInterval,
		multiplier:      DefaultMultiplier,
		jitter:          DefaultJitter,
		maxElapsed:      DefaultMaxElapsed,
		maxRequeues:     DefaultMaxRequeues,
		dedupTTL:        DefaultDedupTTL,
		storeTimeout:    DefaultStoreTimeout,
		replayIdle:      DefaultReplayIdle,
	}
}

// buildConfig applies opts for the constructor `for`, then validates the
// combination.
func buildConfig(forc component, opts []Option) (config, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o.apply == nil {
			return cfg, fmt.Errorf("%w: zero Option", ErrInvalidOption)
		}
		if o.scope&forc == 0 {
			return cfg, fmt.Errorf("%w: %s does not apply here (it applies to %s)", ErrInvalidOption, o.name, o.scope)
		}
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.initialInterval > cfg.maxInterval {
		return cfg, fmt.Errorf("%w: initial interval %v > max interval %v", ErrInvalidOption, cfg.initialInterval, cfg.maxInterval)
	}
	return cfg, nil
}

// WithLogger sets the logger. Default: slog.Default(). Applies to every
// constructor, Replay and ListPoisoned. A nil logger is invalid; use
// slog.New(slog.DiscardHandler) to silence the package.
func WithLogger(l *slog.Logger) Option {
	return Option{name: "WithLogger", scope: compStack | compReplay | compList, apply: func(c *config) error {
		if l == nil {
			return invalidOption("WithLogger", l, "nil logger")
		}
		c.logger = l
		return nil
	}}
}

// WithConsumerGroup names the consumer group the handler runs in. It is written
// into poisoned messages (MetaPoisonGroup), into requeued messages (so other
// groups skip them), prefixes the default dedup namespace, and selects the
// default poison topic "deadletter.<group>". Default: "" (no group; poison
// topic "deadletter"). The group must be a valid routing
// key segment. Applies to NewRetry, NewPoison, NewDedup, Replay, ListPoisoned
// and Default.
func WithConsumerGroup(group string) Option {
	return Option{name: "WithConsumerGroup", scope: compRetry | compPoison | compDedup | compReplay | compList, apply: func(c *config) error {
		if err := events.ValidateSegment(group); err != nil {
			return invalidOption("WithConsumerGroup", fmt.Sprintf("%q", group), err.Error())
		}
		c.group = group
		return nil
	}}
}

// WithMaxAttempts sets how many times the handler runs for one delivery before
// the retry middleware gives up (1 = no retry). Default: DefaultMaxAttempts (5).
// Applies to NewRetry.
func WithMaxAttempts(n int) Option {
	return Option{name: "WithMaxAttempts", scope: compRetry, apply: func(c *config) error {
		if n < 1 {
			return invalidOption("WithMaxAttempts", n, "must be >= 1")
		}
		c.maxAttempts = n
		return nil
	}}
}

// WithBackoff sets the exponential backoff: the first wait is initial, each
// later wait is multiplied by multiplier and capped at max. Default:
// DefaultInitialInterval (100ms), DefaultMultiplier (2), DefaultMaxInterval (5s).
// initial and max must be > 0 with initial <= max; multiplier >= 1.
// Applies to NewRetry.
func WithBackoff(initial time.Duration, multiplier float64, max time.Duration) Option {
	return Option{name: "WithBackoff", scope: compRetry, apply: func(c *config) error {
		switch {
		case initial <= 0:
			return invalidOption("WithBackoff initial", initial, "must be > 0")
		case max <= 0:
			return invalidOption("WithBackoff max", max, "must be > 0")
		case initial > max:
			return invalidOption("WithBackoff initial", initial, "must be <= max "+max.String())
		case multiplier < 1 || math.IsNaN(multiplier) || math.IsInf(multiplier, 0):
			return invalidOption("WithBackoff multiplier", multiplier, "must be a finite number >= 1")
		}
		c.initialInterval, c.multiplier, c.maxInterval = initial, multiplier, max
		return nil
	}}
}

// WithJitter sets the jitter fraction j in [0, 1): each wait d is drawn
// uniformly from [d·(1-j), d], so waits never exceed the schedule (nor the cap)
// and concurrent consumers do not retry in lockstep. 0 disables jitter.
// Default: DefaultJitter (0.2). Applies to NewRetry.
func WithJitter(j float64) Option {
	return Option{name: "WithJitter", scope: compRetry, apply: func(c *config) error {
		if !(j >= 0 && j < 1) {
			return invalidOption("WithJitter", j, "must be in [0, 1)")
		}
		c.jitter = j
		return nil
	}}
}

// WithMaxElapsed bounds the time the retry middleware spends on one delivery,
// measured from its first attempt: no new attempt starts when its wait would end
// after this budget. Default: DefaultMaxElapsed (30s). Applies to NewRetry.
func WithMaxElapsed(d time.Duration) Option {
	return Option{name: "WithMaxElapsed", scope: compRetry, apply: func(c *config) error {
		if d <= 0 {
			return invalidOption("WithMaxElapsed", d, "must be > 0")
		}
		c.maxElapsed = d
		return nil
	}}
}

// WithPermanentIf adds a classifier: errors for which fn returns true are
// treated as permanent (no retry; the poison middleware records class
// "permanent"), as if wrapped with Permanent. Errors already marked permanent
// stay permanent whatever fn says. Default: none. Applies to NewRetry.
func WithPermanentIf(fn func(err error) bool) Option {
	return Option{name: "WithPermanentIf", scope: compRetry, apply: func(c *config) error {
		if fn == nil {
			return invalidOption("WithPermanentIf", "nil", "nil classifier")
		}
		c.permanentIf = fn
		return nil
	}}
}

// WithRequeue switches the retry middleware from "dead-letter after the
// in-handler attempts" (the default) to "requeue with a delay": once the
// in-handler attempts are used up by a transient error, a copy of the message
// (same UUID, body and metadata, plus MetaRetry* metadata carrying the attempt
// count and the time it is due) is published with pub to its original routing
// key (metadata "routingkey") and the delivery is acked, so the partition moves
// on. When the copy comes back, the middleware waits until it is due (honouring
// ctx) and tries again. After maxRequeues requeues (DefaultMaxRequeues = 3 when
// maxRequeues is 0) the error is returned as in the default mode, i.e. the
// message is dead-lettered by the poison middleware.
//
// Requeueing gives up per-key order for that message, and every group
// subscribed to the routing key receives the copy: the retry middleware of a
// handler the copy was not meant for (other handler name or consumer group)
// acks it without running the handler. Consumers that do not use this package
// must deduplicate by event id. Applies to NewRetry.
func WithRequeue(pub message.Publisher, maxRequeues int) Option {
	return Option{name: "WithRequeue", scope: compRetry, apply: func(c *config) error {
		if pub == nil {
			return invalidOption("WithRequeue", "nil", "nil publisher")
		}
		if maxRequeues < 0 {
			return invalidOption("WithRequeue maxRequeues", maxRequeues, "must be >= 0")
		}
		if maxRequeues == 0 {
			maxRequeues = DefaultMaxRequeues
		}
		c.requeuePub, c.maxRequeues = pub, maxRequeues
		return nil
	}}
}

// withRand replaces the jitter source (tests only).
func withRand(fn func() float64) Option {
	return Option{name: "withRand", scope: compRetry, apply: func(c *config) error {
		c.randFloat = fn
		return nil
	}}
}

// WithPoisonKept makes NewPoison (and Default) create, when it is built,
// the subscription of sub's consumer group (usually the dead-letter
// reader's, e.g. "dlq" of cmd/tradebus-dlq) to the poison topic, so that
// the broker keeps every dead letter from the first one on, also before
// anyone reads them. Without it, a broker that drops what no queue is bound
// to (RabbitMQ's topic exchange, mem) drops dead letters published before
// the reader's first subscription. sub must implement
// message.SubscribeInitializer (every tradebus transport's subscriber does).
func WithPoisonKept(sub message.Subscriber) Option {
	return Option{name: "WithPoisonKept", scope: compPoison, apply: func(c *config) error {
		si, ok := sub.(message.SubscribeInitializer)
		if !ok {
			return invalidOption("WithPoisonKept", sub, "must implement message.SubscribeInitializer")
		}
		c.poisonKeep = si
		return nil
	}}
}

// WithClaimStore sets where the poison middleware keeps a dead letter that
// is too big for the broker (see ClaimStore), and where Replay finds it.
// Default: none — such a dead letter is published without its body and
// copied metadata (MetaPoisonDropped says so, and an error is logged), so
// that it never stalls its key; configure a durable store to lose nothing.
func WithClaimStore(cs ClaimStore) Option {
	return Option{name: "WithClaimStore", scope: compPoison | compReplay, apply: func(c *config) error {
		if cs == nil {
			return invalidOption("WithClaimStore", cs, "must not be nil")
		}
		c.claims = cs
		return nil
	}}
}

// WithPoisonTopic sets the routing key poisoned messages are published to
// (NewPoison) or read from (Replay, ListPoisoned). It must be a concrete routing key
// (events.ValidateRoutingKey): Replay puts messages it does not replay back on
// it. Default: "deadletter.<group>" with WithConsumerGroup, else "deadletter".
// Applies to NewPoison, Replay and ListPoisoned.
func WithPoisonTopic(topic string) Option {
	return Option{name: "WithPoisonTopic", scope: compPoison | compReplay | compList, apply: func(c *config) error {
		if err := events.ValidateRoutingKey(topic); err != nil {
			return invalidOption("WithPoisonTopic", fmt.Sprintf("%q", topic), "must be a concrete routing key: "+err.Error())
		}
		c.poisonTopic = topic
		return nil
	}}
}

// WithDedupStore sets where processed keys are recorded. Default: a new
// MemoryStore with default options (per process, bounded). Applies to NewDedup.
func WithDedupStore(s Store) Option {
	return Option{name: "WithDedupStore", scope: compDedup, apply: func(c *config) error {
		if s == nil {
			return invalidOption("WithDedupStore", "nil", "nil store")
		}
		c.store = s
		return nil
	}}
}

// WithDedupTTL sets how long a processed key is remembered: a duplicate
// arriving later than this is processed again. Default: DefaultDedupTTL (24h).
// Applies to NewDedup.
func WithDedupTTL(ttl time.Duration) Option {
	return Option{name: "WithDedupTTL", scope: compDedup, apply: func(c *config) error {
		if ttl <= 0 {
			return invalidOption("WithDedupTTL", ttl, "must be > 0")
		}
		c.dedupTTL = ttl
		return nil
	}}
}

// WithDedupKey sets the function that derives the dedup key from a message,
// e.g. an ExecutionReport's ExecID. Its error is returned from the handler (wrap
// it with Permanent when retrying cannot help); an empty key is a permanent
// error. Default: the event id (metadata "id"), falling back to the Watermill
// message UUID. Applies to NewDedup.
func WithDedupKey(fn func(*message.Message) (string, error)) Option {
	return Option{name: "WithDedupKey", scope: compDedup, apply: func(c *config) error {
		if fn == nil {
			return invalidOption("WithDedupKey", "nil", "nil key function")
		}
		c.keyFunc = fn
		return nil
	}}
}

// WithDedupNamespace sets the namespace prepended to every dedup key
// ("<namespace>:<key>"), so that several consumers can share one store without
// seeing each other's keys. Default: "<group>/<handler name>" with
// WithConsumerGroup, else the Watermill handler name — so every handler of a
// router deduplicates on its own, and the replicas of one service (same group,
// same handler names) share their keys. Applies to NewDedup.
func WithDedupNamespace(ns string) Option {
	return Option{name: "WithDedupNamespace", scope: compDedup, apply: func(c *config) error {
		if ns == "" {
			return invalidOption("WithDedupNamespace", `""`, "empty namespace")
		}
		c.namespace = ns
		return nil
	}}
}

// WithStoreTimeout bounds each dedup store call. Default: DefaultStoreTimeout
// (5s). Applies to NewDedup.
func WithStoreTimeout(d time.Duration) Option {
	return Option{name: "WithStoreTimeout", scope: compDedup, apply: func(c *config) error {
		if d <= 0 {
			return invalidOption("WithStoreTimeout", d, "must be > 0")
		}
		c.storeTimeout = d
		return nil
	}}
}

// WithoutDedup leaves the dedup middleware out of Default's stack (for handlers
// that are naturally idempotent). Applies to Default only.
func WithoutDedup() Option {
	return Option{name: "WithoutDedup", scope: compStack, apply: func(c *config) error {
		c.noDedup = true
		return nil
	}}
}

// WithHandlerTimeout adds the Timeout middleware to Default's stack: each
// handler attempt gets a ctx deadline of d. Default: no timeout. Applies to
// Default (use NewTimeout directly otherwise).
func WithHandlerTimeout(d time.Duration) Option {
	return Option{name: "WithHandlerTimeout", scope: compStack, apply: func(c *config) error {
		if d <= 0 {
			return invalidOption("WithHandlerTimeout", d, "must be > 0")
		}
		c.handlerTimeout = d
		return nil
	}}
}

// WithReplayFilter selects which poisoned messages Replay republishes; the
// others are put back on the poison topic untouched. Default: all. Applies to
// Replay.
func WithReplayFilter(fn func(Poisoned) bool) Option {
	return Option{name: "WithReplayFilter", scope: compReplay, apply: func(c *config) error {
		if fn == nil {
			return invalidOption("WithReplayFilter", "nil", "nil filter")
		}
		c.replayFilter = fn
		return nil
	}}
}

// WithReplayLimit stops Replay after n messages were replayed. Default: 0 =
// no limit (Replay stops when the poison topic is idle). Applies to Replay.
func WithReplayLimit(n int) Option {
	return Option{name: "WithReplayLimit", scope: compReplay, apply: func(c *config) error {
		if n < 0 {
			return invalidOption("WithReplayLimit", n, "must be >= 0")
		}
		c.replayLimit = n
		return nil
	}}
}

// WithReplayIdle sets how long Replay waits for the next poisoned message
// before it decides the poison topic is drained. Default: DefaultReplayIdle
// (1s). Applies to Replay.
func WithReplayIdle(d time.Duration) Option {
	return Option{name: "WithReplayIdle", scope: compReplay, apply: func(c *config) error {
		if d <= 0 {
			return invalidOption("WithReplayIdle", d, "must be > 0")
		}
		c.replayIdle = d
		return nil
	}}
}
