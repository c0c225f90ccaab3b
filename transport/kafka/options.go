package kafka

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Defaults of the options.
const (
	DefaultTopicPrefix          = "tradebus."
	DefaultPartitions           = 16
	DefaultReplicationFactor    = -1 // the broker's default.replication.factor
	DefaultConcurrency          = 64
	DefaultCommitInterval       = time.Second
	DefaultRedeliveryBackoff    = 10 * time.Millisecond
	DefaultRedeliveryBackoffMax = time.Second
	DefaultCloseTimeout         = 10 * time.Second
	DefaultJoinTimeout          = 60 * time.Second
	DefaultSessionTimeout       = 45 * time.Second
	DefaultHeartbeatInterval    = time.Second
	DefaultClientID             = "tradebus"
	redeliveryBackoffMultiplier = 2
	// cleanupTimeout bounds the final offset commit and the group leave
	// once a drain is over (or its deadline passed).
	cleanupTimeout = 5 * time.Second
)

// ScramMechanism selects the hash of SASL/SCRAM authentication.
type ScramMechanism int

const (
	// ScramSHA256 is SCRAM-SHA-256.
	ScramSHA256 ScramMechanism = iota + 1
	// ScramSHA512 is SCRAM-SHA-512.
	ScramSHA512
)

func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return "SCRAM-SHA-256"
	case ScramSHA512:
		return "SCRAM-SHA-512"
	default:
		return fmt.Sprintf("ScramMechanism(%d)", int(m))
	}
}

type config struct {
	prefix        string
	partitions    int32
	replication   int16
	noCreate      bool
	concurrency   int
	commitEvery   time.Duration
	backoff       time.Duration
	backoffMax    time.Duration
	closeTimeout  time.Duration
	joinTimeout   time.Duration
	session       time.Duration
	heartbeat     time.Duration
	linger        time.Duration
	deliveryLimit time.Duration
	clientID      string
	tls           *tls.Config
	sasl          sasl.Mechanism
	logger        watermill.LoggerAdapter
}

func defaultConfig() config {
	return config{
		prefix:       DefaultTopicPrefix,
		partitions:   DefaultPartitions,
		replication:  DefaultReplicationFactor,
		concurrency:  DefaultConcurrency,
		commitEvery:  DefaultCommitInterval,
		backoff:      DefaultRedeliveryBackoff,
		backoffMax:   DefaultRedeliveryBackoffMax,
		closeTimeout: DefaultCloseTimeout,
		joinTimeout:  DefaultJoinTimeout,
		session:      DefaultSessionTimeout,
		heartbeat:    DefaultHeartbeatInterval,
		clientID:     DefaultClientID,
		logger:       watermill.NopLogger{},
	}
}

func (c *config) validate() error {
	if c.backoffMax < c.backoff {
		return fmt.Errorf("%w: redelivery backoff max %s < initial %s", ErrInvalidOption, c.backoffMax, c.backoff)
	}
	if c.heartbeat*3 > c.session {
		return fmt.Errorf("%w: heartbeat interval %s must be at most a third of the session timeout %s",
			ErrInvalidOption, c.heartbeat, c.session)
	}
	return nil
}

// Option configures a Transport. Options are applied in order by New.
type Option func(*config) error

// WithTopicPrefix sets the prefix of every topic name: events of kind k
// (the routing key's first segment) go to topic prefix+k. It may be empty
// and may contain only a-z A-Z 0-9 . _ - (Kafka's topic alphabet), at
// most 200 characters. Default: "tradebus." (DefaultTopicPrefix), so
// trade.binance.BTCUSDT goes to topic "tradebus.trade".
func WithTopicPrefix(prefix string) Option {
	return func(c *config) error {
		if len(prefix) > 200 || !isTopicName(prefix) {
			return fmt.Errorf("%w: topic prefix %q, want at most 200 of a-z A-Z 0-9 . _ -", ErrInvalidOption, prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithPartitions sets the partition count of the topics the Transport
// creates. More partitions let more members of one consumer group share a
// kind; a partition key (symbol) always maps to one partition. n must be
// between 1 and 100000. Existing topics are left as they are.
// Default: 16 (DefaultPartitions).
func WithPartitions(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 100000 {
			return fmt.Errorf("%w: partitions %d, want 1..100000", ErrInvalidOption, n)
		}
		c.partitions = int32(n)
		return nil
	}
}

// WithReplicationFactor sets the replication factor of the topics the
// Transport creates; -1 uses the broker's default.replication.factor. n
// must be -1 or between 1 and 32767. Default: -1 (DefaultReplicationFactor).
func WithReplicationFactor(n int) Option {
	return func(c *config) error {
		if n != -1 && (n < 1 || n > 32767) {
			return fmt.Errorf("%w: replication factor %d, want -1 or 1..32767", ErrInvalidOption, n)
		}
		c.replication = int16(n)
		return nil
	}
}

// WithoutTopicCreation stops the Transport from creating topics: they must
// exist (created by an operator), or Publish fails with
// kerr.UnknownTopicOrPartition and Subscribe waits for them. Default: topics
// are created on first publish or subscribe with WithPartitions partitions.
func WithoutTopicCreation() Option {
	return func(c *config) error {
		c.noCreate = true
		return nil
	}
}

// WithConcurrency sets how many messages one subscription (one Subscribe
// call) may have in flight at once: handed to the handler and not yet
// acked, nacked and waiting for redelivery, or queued behind a message of
// the same key. Messages with the same "partitionkey" metadata are never in
// flight at the same time, so each key keeps its order. 1 hands out one
// message at a time, like Watermill's Kafka subscriber. n must be >= 1.
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

// WithCommitInterval sets how often a subscription commits the offsets
// acked so far (the contiguous acked prefix of each partition). Offsets are
// also committed when a partition is revoked and when the subscription
// stops. A crash redelivers at most what was acked since the last commit.
// d must be > 0. Default: 1s (DefaultCommitInterval).
func WithCommitInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: commit interval %s, want > 0", ErrInvalidOption, d)
		}
		c.commitEvery = d
		return nil
	}
}

// WithRedeliveryBackoff sets the delay before a nacked message is delivered
// again (in its key's lane, so later messages of that key wait): initial
// after the first nack, doubling after each further nack of the same
// message, capped at max. Both must be > 0 and max >= initial.
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

// WithCloseTimeout sets how long Subscriber.Close, and a subscription
// losing a partition in a rebalance, wait for messages already handed to
// the handler to be acked or nacked before abandoning them (they stay
// uncommitted and are redelivered to the group). d must be >= 0.
// Transport.Close uses its ctx instead. Default: 10s (DefaultCloseTimeout).
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: close timeout %s, want >= 0", ErrInvalidOption, d)
		}
		c.closeTimeout = d
		return nil
	}
}

// WithJoinTimeout bounds how long Subscribe waits for the consumer group to
// be joined and partitions assigned; past it Subscribe returns
// ErrJoinTimeout. d must be > 0. Default: 60s (DefaultJoinTimeout).
func WithJoinTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: join timeout %s, want > 0", ErrInvalidOption, d)
		}
		c.joinTimeout = d
		return nil
	}
}

// WithGroupTimeouts sets the consumer group session timeout (a member that
// does not heartbeat for that long is removed and its partitions move) and
// the heartbeat interval (how fast a member notices a rebalance). heartbeat
// must be > 0 and at most session/3; session must lie within the broker's
// group.min/max.session.timeout.ms. Default: 45s session, 1s heartbeat
// (DefaultSessionTimeout, DefaultHeartbeatInterval).
func WithGroupTimeouts(session, heartbeat time.Duration) Option {
	return func(c *config) error {
		if session <= 0 || heartbeat <= 0 {
			return fmt.Errorf("%w: group session %s heartbeat %s, want > 0", ErrInvalidOption, session, heartbeat)
		}
		c.session, c.heartbeat = session, heartbeat
		return nil
	}
}

// WithLinger sets how long the producer waits for more records before
// sending a batch. Batches form anyway while a request is in flight, so the
// default sends at once; a linger trades latency for fewer, larger
// requests. d must be >= 0. Default: 0.
func WithLinger(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: linger %s, want >= 0", ErrInvalidOption, d)
		}
		c.linger = d
		return nil
	}
}

// WithDeliveryTimeout bounds how long the producer keeps retrying a record
// (across broker failures) before failing it; Publish then returns an
// error. 0 means no bound: a record is retried until acknowledged, until
// the message's context is done (Publish returns) or until Close. d must be
// 0 or >= 1s. Default: 0.
func WithDeliveryTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d != 0 && d < time.Second {
			return fmt.Errorf("%w: delivery timeout %s, want 0 or >= 1s", ErrInvalidOption, d)
		}
		c.deliveryLimit = d
		return nil
	}
}

// WithClientID sets the client id the brokers see (logs, quotas). It must
// not be empty. Default: "tradebus" (DefaultClientID).
func WithClientID(id string) Option {
	return func(c *config) error {
		if id == "" {
			return fmt.Errorf("%w: empty client id", ErrInvalidOption)
		}
		c.clientID = id
		return nil
	}
}

// WithTLS connects to the brokers over TLS with cfg (cloned). cfg must not
// be nil. Default: plain TCP.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) error {
		if cfg == nil {
			return fmt.Errorf("%w: nil TLS config", ErrInvalidOption)
		}
		c.tls = cfg.Clone()
		return nil
	}
}

// WithSASLPlain authenticates with SASL/PLAIN (use it over TLS: the
// password travels as is). user and password must not be empty; they never
// appear in errors or logs. Default: no SASL.
func WithSASLPlain(user, password string) Option {
	return func(c *config) error {
		if user == "" || password == "" {
			return fmt.Errorf("%w: SASL PLAIN needs a user and a password", ErrInvalidOption)
		}
		c.sasl = plain.Auth{User: user, Pass: password}.AsMechanism()
		return nil
	}
}

// WithSASLScram authenticates with SASL/SCRAM using mechanism. user and
// password must not be empty; they never appear in errors or logs.
// Default: no SASL.
func WithSASLScram(mechanism ScramMechanism, user, password string) Option {
	return func(c *config) error {
		if user == "" || password == "" {
			return fmt.Errorf("%w: SASL %s needs a user and a password", ErrInvalidOption, mechanism)
		}
		auth := scram.Auth{User: user, Pass: password}
		switch mechanism {
		case ScramSHA256:
			c.sasl = auth.AsSha256Mechanism()
		case ScramSHA512:
			c.sasl = auth.AsSha512Mechanism()
		default:
			return fmt.Errorf("%w: SASL mechanism %v", ErrInvalidOption, mechanism)
		}
		return nil
	}
}

// WithLogger sets the logger for what a subscription cannot return as an
// error (fetch and commit failures). It must not be nil. Default: none
// (watermill.NopLogger).
func WithLogger(l watermill.LoggerAdapter) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}
