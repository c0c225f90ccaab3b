package kafkatest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ErrInvalidOption is wrapped by the error Start returns for a bad option.
var ErrInvalidOption = errors.New("kafkatest: invalid option")

// Defaults of the options.
const (
	DefaultBrokers    = 1
	DefaultPartitions = 10
)

type config struct {
	brokers    int
	partitions int
	extra      []kfake.Opt
}

// Option configures a Cluster.
type Option func(*config) error

// WithBrokers sets how many brokers the cluster runs (each on its own
// loopback port). n must be >= 1. Default: 1 (DefaultBrokers).
func WithBrokers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: brokers %d, want >= 1", ErrInvalidOption, n)
		}
		c.brokers = n
		return nil
	}
}

// WithPartitions sets the partition count of topics the cluster creates on
// its own (auto-created by a producer or consumer, or created with -1
// partitions). Topics created by package kafka use that package's
// WithPartitions instead. n must be >= 1. Default: 10 (DefaultPartitions).
func WithPartitions(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: partitions %d, want >= 1", ErrInvalidOption, n)
		}
		c.partitions = n
		return nil
	}
}

// WithKfakeOptions passes options to kfake.NewCluster after this package's
// own, e.g. kfake.EnableSASL() with kfake.Superuser(...), or kfake.TLS(...).
// Default: none.
func WithKfakeOptions(opts ...kfake.Opt) Option {
	return func(c *config) error {
		for _, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: nil kfake option", ErrInvalidOption)
			}
		}
		c.extra = append(c.extra, opts...)
		return nil
	}
}

// Cluster is a running embedded Kafka cluster. The zero value is not
// usable; call Start or NewCluster.
type Cluster struct {
	kf *kfake.Cluster

	mu        sync.Mutex
	listeners []*cutListener
	closeOnce sync.Once
}

// Start starts a cluster on loopback ports. The caller must Close it. It is
// meant for examples and programs; tests use NewCluster.
func Start(opts ...Option) (*Cluster, error) {
	cfg := config{brokers: DefaultBrokers, partitions: DefaultPartitions}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Cluster{}
	kopts := []kfake.Opt{
		kfake.NumBrokers(cfg.brokers),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.ListenFn(c.listen),
	}
	kf, err := kfake.NewCluster(append(kopts, cfg.extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: start cluster: %w", err)
	}
	c.kf = kf
	return c, nil
}

// NewCluster starts a cluster for the test and closes it with t.Cleanup.
// It fails the test if the cluster cannot start.
func NewCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := Start(opts...)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Brokers returns the host:port of every broker, for kafka.NewDriver or any
// Kafka client's bootstrap list.
func (c *Cluster) Brokers() []string { return c.kf.ListenAddrs() }

// URL returns a kafka:// URL naming every broker, for transport.Open or
// kafka.Open.
func (c *Cluster) URL() string { return "kafka://" + strings.Join(c.Brokers(), ",") }

// Kfake returns the underlying kfake cluster, for its fault injection and
// control functions.
func (c *Cluster) Kfake() *kfake.Cluster { return c.kf }

// CutConnections closes every client connection the brokers hold open at
// this moment, as a network failure or broker restart would, and returns
// how many it closed. Clients reconnect on their own; the data stays.
func (c *Cluster) CutConnections() int {
	c.mu.Lock()
	ls := append([]*cutListener(nil), c.listeners...)
	c.mu.Unlock()
	n := 0
	for _, l := range ls {
		n += l.cut()
	}
	return n
}

// Outage takes the brokers away from every client, as a network
// partition would: it closes every client connection and refuses new
// ones (accepted, then closed at once) until restore is called. The data
// stays. restore is idempotent.
func (c *Cluster) Outage() (restore func()) {
	c.mu.Lock()
	ls := append([]*cutListener(nil), c.listeners...)
	c.mu.Unlock()
	for _, l := range ls {
		l.refuse.Store(true)
		l.cut()
	}
	return func() {
		for _, l := range ls {
			l.refuse.Store(false)
		}
	}
}

// Close stops the cluster and closes every connection. It is idempotent.
func (c *Cluster) Close() {
	c.closeOnce.Do(c.kf.Close)
}

func (c *Cluster) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	l := &cutListener{Listener: ln, conns: make(map[*trackedConn]struct{})}
	c.mu.Lock()
	c.listeners = append(c.listeners, l)
	c.mu.Unlock()
	return l, nil
}

// cutListener remembers the connections it accepted so that they can be
// cut.
type cutListener struct {
	net.Listener
	refuse atomic.Bool // close what Accept accepts (Outage)

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func (l *cutListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	for err == nil && l.refuse.Load() {
		_ = conn.Close()
		conn, err = l.Listener.Accept()
	}
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, l: l}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

func (l *cutListener) cut() int {
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for tc := range l.conns {
		conns = append(conns, tc)
	}
	l.mu.Unlock()
	for _, tc := range conns {
		_ = tc.Close()
	}
	return len(conns)
}

type trackedConn struct {
	net.Conn
	l *cutListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
