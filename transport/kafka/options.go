package kafka

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Defaults and bounds of the options.
const (
	DefaultTopicPrefix       = "tradebus."
	DefaultPartitions        = 16
	DefaultReplicationFactor = -1 // the broker's default.replication.factor
	DefaultCommitInterval    = time.Second
	DefaultRevokeTimeout     = 10 * time.Second
	DefaultJoinTimeout       = 60 * time.Second
	DefaultSessionTimeout    = 45 * time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultClientID          = "tradebus"
	// DefaultMaxMessageBytes is kgo's default ProducerBatchMaxBytes
	// (1,000,012), below Kafka's default max.message.bytes (1,048,588):
	// the producer refuses a record whose batch would be bigger.
	DefaultMaxMessageBytes = 1_000_012
	// DefaultFetchMaxBytes bounds one fetch response (all partitions of
	// a broker together); see WithFetchMaxBytes.
	DefaultFetchMaxBytes = 256 << 10

	MaxPartitions   = 100000
	MinMessageBytes = 1024
	MaxMessageBytes = 1 << 30 // kgo's upper bound of ProducerBatchMaxBytes
	MinFetchBytes   = 1024
	MaxFetchBytes   = 1 << 30
	MaxTimeout      = time.Hour

	// cleanupTimeout bounds the final offset commit and the group leave
	// of a subscription's Close.
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
	commitEvery   time.Duration
	revokeTimeout time.Duration
	joinTimeout   time.Duration
	session       time.Duration
	heartbeat     time.Duration
	linger        time.Duration
	lingerCut     time.Duration // the producer's linger when linger is 0
	deliveryLimit time.Duration
	maxBytes      int
	fetchMaxBytes int
	clientID      string
	tls           *tls.Config
	sasl          sasl.Mechanism
	logger        *slog.Logger
}

func defaultConfig() config {
	return config{
		prefix:        DefaultTopicPrefix,
		partitions:    DefaultPartitions,
		replication:   DefaultReplicationFactor,
		commitEvery:   DefaultCommitInterval,
		revokeTimeout: DefaultRevokeTimeout,
		joinTimeout:   DefaultJoinTimeout,
		session:       DefaultSessionTimeout,
		heartbeat:     DefaultHeartbeatInterval,
		maxBytes:      DefaultMaxMessageBytes,
		lingerCut:     defaultLingerCut,
		fetchMaxBytes: DefaultFetchMaxBytes,
		clientID:      DefaultClientID,
		logger:        slog.Default(),
	}
}

func (c *config) validate() error {
	if c.heartbeat*3 > c.session {
		return fmt.Errorf("%w: heartbeat interval %s must be at most a third of the session timeout %s",
			ErrInvalidOption, c.heartbeat, c.session)
	}
	return nil
}

// durationIn checks an option's duration against [lo, MaxTimeout].
func durationIn(name string, d, lo time.Duration) error {
	if d < lo || d > MaxTimeout {
		return fmt.Errorf("%w: %s %s, want %s to %s", ErrInvalidOption, name, d, lo, MaxTimeout)
	}
	return nil
}

// Option configures a Driver. Options are applied in order by NewDriver.
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
		if n < 1 || n > MaxPartitions {
			return fmt.Errorf("%w: partitions %d, want 1 to %d", ErrInvalidOption, n, MaxPartitions)
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

// WithoutTopicCreation stops the Driver from creating topics: they must
// exist (created by an operator), or Publish fails with
// kerr.UnknownTopicOrPartition and Subscribe waits for them. Default: topics
// are created on first publish or subscribe with WithPartitions partitions.
func WithoutTopicCreation() Option {
	return func(c *config) error {
		c.noCreate = true
		return nil
	}
}

// WithCommitInterval sets how often a subscription commits the offsets
// acked so far (the contiguous acked prefix of each partition). Offsets are
// also committed when a partition is revoked and when the subscription
// closes. A crash redelivers at most what was acked since the last commit.
// 1ms to MaxTimeout. Default: 1s (DefaultCommitInterval). URL:
// commit_interval=D.
func WithCommitInterval(d time.Duration) Option {
	return func(c *config) error {
		if err := durationIn("commit interval", d, time.Millisecond); err != nil {
			return err
		}
		c.commitEvery = d
		return nil
	}
}

// WithRevokeTimeout sets how long a member losing partitions in a
// rebalance waits for the messages of those partitions it already
// received to be acked (or given back) before it commits and lets them go.
// Within it, the next owner continues exactly after the last acked
// message: nothing is handled twice and each key keeps its order across
// members. Past it the member stops counting the acks of those partitions
// and the next owner gets the rest again (at least once). 0 to MaxTimeout.
// Default: 10s (DefaultRevokeTimeout). URL: revoke_timeout=D.
func WithRevokeTimeout(d time.Duration) Option {
	return func(c *config) error {
		if err := durationIn("revoke timeout", d, 0); err != nil {
			return err
		}
		c.revokeTimeout = d
		return nil
	}
}

// WithJoinTimeout bounds how long Subscribe waits for the consumer group to
// be joined; past it Subscribe returns ErrJoinTimeout. 1ms to MaxTimeout.
// Default: 60s (DefaultJoinTimeout). URL: join_timeout=D.
func WithJoinTimeout(d time.Duration) Option {
	return func(c *config) error {
		if err := durationIn("join timeout", d, time.Millisecond); err != nil {
			return err
		}
		c.joinTimeout = d
		return nil
	}
}

// WithGroupTimeouts sets the consumer group session timeout (a member that
// does not heartbeat for that long is removed and its partitions move) and
// the heartbeat interval (how fast a member notices a rebalance). Both 1ms
// to MaxTimeout, heartbeat at most session/3; session must lie within the
// broker's group.min/max.session.timeout.ms. Default: 45s session, 1s
// heartbeat (DefaultSessionTimeout, DefaultHeartbeatInterval). URL:
// session_timeout=D, heartbeat_interval=D.
func WithGroupTimeouts(session, heartbeat time.Duration) Option {
	return func(c *config) error {
		if err := durationIn("group session timeout", session, time.Millisecond); err != nil {
			return err
		}
		if err := durationIn("heartbeat interval", heartbeat, time.Millisecond); err != nil {
			return err
		}
		c.session, c.heartbeat = session, heartbeat
		return nil
	}
}

// WithLinger sets how long the producer waits for more records of a
// partition before sending a batch (kgo.ProducerLinger), across publish
// calls. 0 to 1m. Default: 0, not kgo's 10ms: a publish waits for its own
// records' acknowledgements, so a linger beyond the call only adds to its
// latency, and batches form anyway while a request is in flight. With 0,
// a publish call's records still go out together: the producer holds them
// back while the call buffers them and sends them all once the last is
// buffered (as kgo's ProduceSync cuts its linger short). URL: linger=D.
func WithLinger(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > time.Minute {
			return fmt.Errorf("%w: linger %s, want 0 to 1m", ErrInvalidOption, d)
		}
		c.linger = d
		return nil
	}
}

// WithMaxMessageBytes sets the producer's largest record batch
// (kgo.ProducerBatchMaxBytes), which bounds one message: set it to the
// max.message.bytes of your topics when they allow more than the default.
// MinMessageBytes to MaxMessageBytes. Default: 1,000,012
// (DefaultMaxMessageBytes). URL: max_message_bytes=N.
func WithMaxMessageBytes(n int) Option {
	return func(c *config) error {
		if n < MinMessageBytes || n > MaxMessageBytes {
			return fmt.Errorf("%w: max message bytes %d, want %d to %d", ErrInvalidOption, n, MinMessageBytes, MaxMessageBytes)
		}
		c.maxBytes = n
		return nil
	}
}

// WithFetchMaxBytes bounds how many bytes one fetch response of a
// subscription carries, all partitions led by one broker together
// (kgo.FetchMaxBytes; a record batch bigger than that still comes, alone,
// so no message is too big for it). kgo keeps one fetch per broker
// buffered and sends the next only once the core has taken every record
// of it, decoding a whole response before handing out its first record:
// a smaller bound lets the next fetch travel and decode while the core
// dispatches the last one, and a backlog's first message come after one
// small response rather than after up to kgo's default 50 MB; a bound too
// small makes a round trip per few hundred messages, each a pause on a
// loaded machine (a larger bound suits a consumer that mostly drains big
// backlogs). MinFetchBytes to MaxFetchBytes. Default: 256 KiB
// (DefaultFetchMaxBytes). URL: fetch_max_bytes=N.
func WithFetchMaxBytes(n int) Option {
	return func(c *config) error {
		if n < MinFetchBytes || n > MaxFetchBytes {
			return fmt.Errorf("%w: fetch max bytes %d, want %d to %d", ErrInvalidOption, n, MinFetchBytes, MaxFetchBytes)
		}
		c.fetchMaxBytes = n
		return nil
	}
}

// WithDeliveryTimeout bounds how long the producer keeps retrying a record
// (across broker failures) before failing it; the publish then returns an
// error. 0 means no bound: a record is retried until acknowledged, until
// the publish's context is done or until Close. 0 or 1s to MaxTimeout.
// Default: 0. URL: delivery_timeout=D.
func WithDeliveryTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d != 0 {
			if err := durationIn("delivery timeout", d, time.Second); err != nil {
				return err
			}
		}
		c.deliveryLimit = d
		return nil
	}
}

// WithClientID sets the client id the brokers see (logs, quotas): 1 to 255
// bytes. Default: "tradebus" (DefaultClientID).
func WithClientID(id string) Option {
	return func(c *config) error {
		if id == "" || len(id) > 255 {
			return fmt.Errorf("%w: client id %q, want 1 to 255 bytes", ErrInvalidOption, id)
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

// WithLogger sets the driver's logger: what a subscription cannot return as
// an error (fetch and commit failures, which the client retries), and the
// franz-go client's own warnings and errors (through kslog). transport.Open
// passes transport.WithLogger's. It must not be nil; use
// slog.New(slog.DiscardHandler) to silence it. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}
