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

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/closeall"
)

// Transport is a tradebus transport on Apache Kafka. It is safe for
// concurrent use. The zero value is not usable; call New or Open.
type Transport struct {
	cfg     config
	brokers []string
	prod    *kgo.Client // producer, also used for metadata and admin requests
	adm     *kadm.Client
	pub     *Publisher

	// ctx lives until Close has finished: records are produced with it,
	// so that a cancelled Publish never cancels other calls' records
	// batched with its own.
	ctx    context.Context
	cancel context.CancelFunc

	topics sync.Map // topic name -> *topicState

	mu         sync.RWMutex
	closed     bool
	publishing sync.WaitGroup // Publish calls in progress
	subs       map[*Subscriber]struct{}

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
}

type topicState struct {
	mu     sync.Mutex
	exists atomic.Bool
}

// New returns a Transport for the cluster reachable through brokers (seed
// "host:port" addresses; the rest are discovered). New does not talk to
// the brokers: the first Publish or Subscribe does, Open pings.
func New(brokers []string, opts ...Option) (*Transport, error) {
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
	t := &Transport{
		cfg:       cfg,
		brokers:   append([]string(nil), brokers...),
		subs:      make(map[*Subscriber]struct{}),
		closeDone: make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	popts := append(t.clientOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent writes are kgo's default and need acks=all
		kgo.ProducerLinger(cfg.linger),
		kgo.RecordDeliveryTimeout(cfg.deliveryLimit),
	)
	prod, err := kgo.NewClient(popts...)
	if err != nil {
		t.cancel()
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	t.prod = prod
	t.adm = kadm.NewClient(prod)
	t.pub = &Publisher{t: t}
	return t, nil
}

// clientOpts returns the options every client of t shares.
func (t *Transport) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(t.brokers...),
		kgo.ClientID(t.cfg.clientID),
	}
	if t.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(t.cfg.tls.Clone()))
	}
	if t.cfg.sasl != nil {
		opts = append(opts, kgo.SASL(t.cfg.sasl))
	}
	return opts
}

// Ping checks that a broker answers (and that TLS and SASL succeed) within
// ctx.
func (t *Transport) Ping(ctx context.Context) error {
	if err := t.prod.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: ping %s: %w", strings.Join(t.brokers, ","), err)
	}
	return nil
}

// Publisher returns the transport's publisher; the Watermill topic is the
// routing key. Closing it is a no-op: Close the Transport instead.
func (t *Transport) Publisher() message.Publisher { return t.pub }

// Subscriber returns a subscriber consuming as consumer group group. See
// NewSubscriber.
func (t *Transport) Subscriber(group string) (message.Subscriber, error) {
	s, err := t.NewSubscriber(group)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NewSubscriber returns a subscriber consuming as tradebus consumer group
// group: a non-empty name without ':'. Each Subscribe(ctx, pattern) call
// on it joins the Kafka consumer group GroupID(group, pattern) as a new
// member: members of one group and pattern share the kind's partitions,
// and each (group, pattern) receives every matching event once.
func (t *Transport) NewSubscriber(group string) (*Subscriber, error) {
	if group == "" || strings.ContainsRune(group, ':') {
		return nil, fmt.Errorf("%w: %q (want a non-empty name without ':')", ErrInvalidGroup, group)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	s := newSubscriber(t, group)
	t.subs[s] = struct{}{}
	return s, nil
}

// GroupID returns the Kafka consumer group id used for tradebus group
// group subscribed to pattern: group + ":" + pattern, e.g.
// "risk:trade.*.BTCUSDT". Use it with Kafka tooling (kafka-consumer-groups,
// kcat) and Lag.
func GroupID(group, pattern string) string { return group + ":" + pattern }

// Topic returns the Kafka topic that events with routing key (or pattern)
// key go to: the topic prefix followed by the key's kind.
func (t *Transport) Topic(key string) string { return t.cfg.prefix + events.Kind(key) }

// topicFor validates key's kind as part of a topic name.
func (t *Transport) topicFor(key string) (string, error) {
	topic := t.Topic(key)
	if len(topic) > 249 || topic == "." || topic == ".." || !isTopicName(topic) {
		return "", &TopicError{Key: key, Topic: topic}
	}
	return topic, nil
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

// ensureTopic creates topic unless creation is off or it was seen before.
// An existing topic is left as it is (its partition count too).
func (t *Transport) ensureTopic(ctx context.Context, topic string) error {
	if t.cfg.noCreate {
		return nil
	}
	v, ok := t.topics.Load(topic)
	if !ok {
		v, _ = t.topics.LoadOrStore(topic, &topicState{})
	}
	st := v.(*topicState)
	if st.exists.Load() {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.exists.Load() {
		return nil
	}
	_, err := t.adm.CreateTopic(ctx, t.cfg.partitions, t.cfg.replication, nil, topic)
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		// Not allowed to create topics: they are an operator's job here,
		// and producing or consuming tells whether this one exists.
		t.cfg.logger.Info("kafka: not authorized to create topics; assuming it exists",
			watermill.LogFields{"topic": topic})
	default:
		return fmt.Errorf("kafka: create topic %q: %w", topic, err)
	}
	st.exists.Store(true)
	return nil
}

// beginPublish registers a Publish call; false once closing.
func (t *Transport) beginPublish() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return false
	}
	t.publishing.Add(1)
	return true
}

func (t *Transport) forget(s *Subscriber) {
	t.mu.Lock()
	delete(t.subs, s)
	t.mu.Unlock()
}

// Close stops accepting publishes and subscriptions, then drains: it waits
// for Publish calls in progress to be acknowledged and for every message
// already handed to a handler to be acked or nacked, until ctx is done.
// Messages fetched but not yet handed out are left uncommitted. Then it
// commits the acked offsets, leaves the consumer groups, closes every
// output channel and stops every goroutine and connection the Transport
// started (the final commit and leave take at most a few seconds more,
// even past ctx). If ctx ended before the drain finished, the error wraps
// ctx.Err(). Close is idempotent: a call while the first is running waits
// for it (or its own ctx) and returns its result; a call after it finished
// returns nil.
func (t *Transport) Close(ctx context.Context) error {
	first := false
	t.closeOnce.Do(func() { first = true })
	if first {
		t.close(ctx)
		return t.closeErr
	}
	select {
	case <-t.closeDone:
		return nil
	default:
	}
	select {
	case <-t.closeDone:
		return t.closeErr
	case <-ctx.Done():
		return fmt.Errorf("kafka: close: %w", ctx.Err())
	}
}

func (t *Transport) close(ctx context.Context) {
	t.mu.Lock()
	t.closed = true
	subs := make([]*Subscriber, 0, len(t.subs))
	for s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()

	pubDone := make(chan struct{})
	go func() {
		t.publishing.Wait()
		close(pubDone)
	}()
	var errs []error
	if err := closeall.Each(ctx, subs, (*Subscriber).close); err != nil {
		errs = append(errs, err)
	}
	select {
	case <-pubDone:
	default:
		select {
		case <-pubDone:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("kafka: close: publishes in progress not acknowledged: %w", ctx.Err()))
		}
	}
	// Closing the producer fails what is still buffered; the Publish
	// calls waiting for it return with kgo.ErrClientClosed.
	t.prod.Close()
	<-pubDone
	t.cancel()
	if len(errs) > 0 {
		t.closeErr = errors.Join(errs...)
	}
	close(t.closeDone)
}
