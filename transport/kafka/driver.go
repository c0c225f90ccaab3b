package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// Driver is the Kafka driver.Driver. Run it on the portable core:
//
//	drv, err := kafka.NewDriver([]string{"broker:9092"}, kafka.WithPartitions(32))
//	tr, err := transport.New(drv, transport.WithConcurrency(8))
//
// Its own methods (Lag, DeleteGroup, TopicName, Ping) stay reachable
// through (*transport.Portable).Driver(). It is safe for concurrent use; the zero
// value is not usable.
type Driver struct {
	cfg     config
	brokers []string
	prod    *kgo.Client // producer, also used for metadata and admin requests
	adm     *kadm.Client
	closed  atomic.Bool
	// cutLinger: the producer lingers (defaultLingerCut) only while a
	// SendBatch call buffers its records, which then stops the lingers.
	cutLinger bool

	mu     sync.RWMutex
	topics map[string]*topicState // kind -> state
}

// topicState is the Kafka topic of one kind.
type topicState struct {
	name string
	err  error // the kind cannot name a topic

	mu      sync.Mutex
	created atomic.Bool
}

var _ driver.Driver = (*Driver)(nil)

// NewDriver returns a Driver for the cluster reachable through brokers
// (seed "host:port" addresses; the rest are discovered). It does not talk
// to the brokers: the first publish or Subscribe does, Open pings.
func NewDriver(brokers []string, opts ...Option) (*Driver, error) {
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%w: no broker address", ErrInvalidOption)
	}
	for _, b := range brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return nil, fmt.Errorf("%w: broker address %q, want host:port", ErrInvalidOption, b)
		} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("%w: broker address %q: bad port", ErrInvalidOption, b)
		}
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Driver{
		cfg:     cfg,
		brokers: append([]string(nil), brokers...),
		topics:  make(map[string]*topicState),
	}
	linger := cfg.linger
	if linger == 0 {
		linger, d.cutLinger = cfg.lingerCut, true
	}
	popts := append(d.clientOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent writes are kgo's default and need acks=all
		kgo.ProducerBatchMaxBytes(int32(cfg.maxBytes)),
		kgo.RecordDeliveryTimeout(cfg.deliveryLimit),
		kgo.ProducerLinger(linger),
	)
	prod, err := kgo.NewClient(popts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	d.prod = prod
	d.adm = kadm.NewClient(prod)
	return d, nil
}

// defaultLingerCut is the producer's linger without WithLinger: SendBatch
// stops it once it has buffered every record of its call, so that the
// call's records of one partition go out as one record batch, and all of
// them in one produce request per broker, rather than the first record of
// each partition alone and the rest behind it (kgo sends a partition's
// buffered records at once without a linger). The linger itself runs out
// only where SendBatch cannot stop it: records of a topic whose partitions
// the client has yet to learn (the first publish to a new topic), or a
// call buffering for longer than it.
const defaultLingerCut = 5 * time.Millisecond

// clientOpts returns the options every client of d shares.
func (d *Driver) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(d.brokers...),
		kgo.ClientID(d.cfg.clientID),
		kgo.WithLogger(clientLogger{kslog.New(d.cfg.logger)}),
	}
	if d.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(d.cfg.tls.Clone()))
	}
	if d.cfg.sasl != nil {
		opts = append(opts, kgo.SASL(d.cfg.sasl))
	}
	return opts
}

// Ping checks that a broker answers (and that TLS and SASL succeed) within
// ctx: one metadata request. It returns ErrClosed after Close.
func (d *Driver) Ping(ctx context.Context) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if err := d.prod.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: ping %s: %w", strings.Join(d.brokers, ","), err)
	}
	return nil
}

// Topic returns the driver's driver.Topic (the producer).
func (d *Driver) Topic() driver.Topic { return (*producer)(d) }

// Capabilities states the driver's limits: a message (payload, metadata
// and UUID as the core counts them) must fit in one record batch of
// WithMaxMessageBytes (kgo's ProducerBatchMaxBytes, 1,000,012 by default,
// which is below Kafka's default topic max.message.bytes of 1,048,588),
// less what the record and batch framing and the header names take
// (batchOverhead); Kafka has no separate header limit. It releases the
// metadata of sent messages: SendBatch copies what it needs into the
// records (the header values are the map's strings, not the map).
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Name:               "kafka",
		MaxMessageBytes:    d.maxMessageBytes(),
		KeepsHistory:       true,
		DurableGroups:      true,
		SharedGroups:       true,
		OrderAcrossMembers: true,
		Redelivers:         true,
		ChecksSizes:        true,
		ReleasesMetadata:   true,
	}
}

// maxMessageBytes is Capabilities' MaxMessageBytes.
func (d *Driver) maxMessageBytes() int { return d.cfg.maxBytes - batchOverhead }

// batchOverhead is what a record batch of one record takes beyond the
// bytes the core counts (payload, metadata keys and values, UUID): the
// batch header (61 bytes), the record's varints, the "ce_" prefixes of the
// header names and their length varints, with room for a few hundred
// headers.
const batchOverhead = 4096

// GroupID returns the Kafka consumer group id used for tradebus group
// group subscribed to pattern: group + ":" + pattern, e.g.
// "risk:trade.*.BTCUSDT". Use it with Kafka tooling (kafka-consumer-groups,
// kcat) and Lag.
func GroupID(group, pattern string) string { return group + ":" + pattern }

// TopicName returns the Kafka topic that events with routing key (or
// pattern) key go to: the topic prefix followed by the key's kind.
func (d *Driver) TopicName(key string) string { return d.cfg.prefix + events.Kind(key) }

// topic returns the state of key's kind, or an error if the kind cannot
// name a Kafka topic.
func (d *Driver) topic(key string) (*topicState, error) {
	kind := events.Kind(key)
	d.mu.RLock()
	st := d.topics[kind]
	d.mu.RUnlock()
	if st == nil {
		name := d.cfg.prefix + kind
		st = &topicState{name: name}
		if len(name) > 249 || name == "." || name == ".." || !isTopicName(name) {
			st.err = &TopicError{Key: key, Topic: name}
		}
		d.mu.Lock()
		if prev := d.topics[kind]; prev != nil {
			st = prev
		} else {
			d.topics[kind] = st
		}
		d.mu.Unlock()
	}
	if st.err != nil {
		return nil, &TopicError{Key: key, Topic: st.name}
	}
	return st, nil
}

// isTopicName reports whether s uses only Kafka's topic alphabet.
func isTopicName(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ensure creates st's topic unless creation is off or it was done before.
// An existing topic is left as it is (its partition count too).
func (d *Driver) ensure(ctx context.Context, st *topicState) error {
	if d.cfg.noCreate || st.created.Load() {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.created.Load() {
		return nil
	}
	_, err := d.adm.CreateTopic(ctx, d.cfg.partitions, d.cfg.replication, nil, st.name)
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		// Not allowed to create topics: they are an operator's job here,
		// and producing or consuming tells whether this one exists.
		d.cfg.logger.Info("kafka: not authorized to create topics; assuming it exists", "topic", st.name)
	default:
		return fmt.Errorf("kafka: create topic %q: %w", st.name, err)
	}
	st.created.Store(true)
	return nil
}

// Prepare creates the topic of pattern's kind (unless
// WithoutTopicCreation). A consumer group that has never committed reads
// the topic from its oldest record, so events published from now on reach
// every group that subscribes later.
func (d *Driver) Prepare(ctx context.Context, _, pattern string) error {
	st, err := d.topic(pattern)
	if err != nil {
		return err
	}
	return d.ensure(ctx, st)
}

// Close closes the producer: records still buffered fail.
func (d *Driver) Close(context.Context) error {
	d.closed.Store(true)
	d.prod.Close()
	return nil
}
