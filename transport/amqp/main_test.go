package amqp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// brokerURL returns TRADEBUS_TEST_AMQP_URL, skipping the test when it is
// unset and failing it when the broker does not answer.
func brokerURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv("TRADEBUS_TEST_AMQP_URL")
	if raw == "" {
		t.Skip("set TRADEBUS_TEST_AMQP_URL to run")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TRADEBUS_TEST_AMQP_URL: %v", err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5672")
	}
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatalf("RabbitMQ at %s unreachable: %v", u.Redacted(), err)
	}
	_ = c.Close()
	return raw
}

func randSuffix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// quietLogger keeps expected reconnect warnings out of the test output
// unless -v.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// cleaner deletes the queues and exchanges a test created, at the end of
// the test, on a connection of its own.
type cleaner struct {
	url string

	mu        sync.Mutex
	queues    map[string]bool
	exchanges map[string]bool
}

func newCleaner(t testing.TB, rawURL string) *cleaner {
	c := &cleaner{url: rawURL, queues: map[string]bool{}, exchanges: map[string]bool{}}
	t.Cleanup(func() { c.run(t) })
	return c
}

func (c *cleaner) queue(name string) {
	c.mu.Lock()
	c.queues[name] = true
	c.mu.Unlock()
}

func (c *cleaner) exchange(name string) {
	c.mu.Lock()
	c.exchanges[name] = true
	c.mu.Unlock()
}

func (c *cleaner) run(t testing.TB) {
	conn, err := amqp091.Dial(c.url)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("cleanup: delete queue %s: %v", q, err)
			if ch, err = conn.Channel(); err != nil {
				return
			}
		}
	}
	for x := range c.exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Errorf("cleanup: delete exchange %s: %v", x, err)
			if ch, err = conn.Channel(); err != nil {
				return
			}
		}
	}
}

// recTransport is a Transport on the core and its driver; it records the
// queues its subscribers declare, for cleanup.
type recTransport struct {
	*transport.Portable
	drv   *amqp.Driver
	clean *cleaner
}

func (r recTransport) Subscriber(group string) (message.Subscriber, error) {
	s, err := r.Portable.NewSubscriber(group)
	if err != nil {
		return nil, err
	}
	return &recSubscriber{Subscriber: s, drv: r.drv, clean: r.clean}, nil
}

// QueueName is the driver's.
func (r recTransport) QueueName(group, pattern string) string { return r.drv.QueueName(group, pattern) }

// Connect is the driver's.
func (r recTransport) Connect(ctx context.Context) error { return r.drv.Connect(ctx) }

type recSubscriber struct {
	*transport.Subscriber
	drv   *amqp.Driver
	clean *cleaner
}

func (s *recSubscriber) Subscribe(ctx context.Context, pattern string) (<-chan *message.Message, error) {
	s.clean.queue(s.drv.QueueName(s.Group(), pattern))
	return s.Subscriber.Subscribe(ctx, pattern)
}

func (s *recSubscriber) Consume(ctx context.Context, pattern string, h message.HandlerFunc) (func() error, error) {
	s.clean.queue(s.drv.QueueName(s.Group(), pattern))
	return s.Subscriber.Consume(ctx, pattern, h)
}

func (s *recSubscriber) SubscribeInitialize(pattern string) error {
	s.clean.queue(s.drv.QueueName(s.Group(), pattern))
	return s.Subscriber.SubscribeInitialize(pattern)
}

// env is one test's broker setup: a unique exchange and cleanup.
type env struct {
	url      string
	exchange string
	clean    *cleaner
}

func newEnv(t testing.TB) *env {
	raw := brokerURL(t)
	e := &env{url: raw, exchange: "tbtest-" + randSuffix()}
	e.clean = newCleaner(t, raw)
	e.clean.exchange(e.exchange)
	return e
}

// transport returns a new transport on the env's exchange (unless opts
// override it), closed at the end of the test. opts are amqp.Options
// (the driver's) and transport.Options (the core's).
func (e *env) transport(t testing.TB, opts ...any) recTransport {
	return e.transportURL(t, e.url, opts...)
}

func (e *env) transportURL(t testing.TB, rawURL string, opts ...any) recTransport {
	t.Helper()
	aopts := []amqp.Option{amqp.WithExchange(e.exchange), amqp.WithLogger(quietLogger())}
	topts := []transport.Option{transport.WithLogger(quietLogger())}
	for _, o := range opts {
		switch o := o.(type) {
		case amqp.Option:
			aopts = append(aopts, o)
		case transport.Option:
			topts = append(topts, o)
		default:
			t.Fatalf("option of type %T", o)
		}
	}
	drv, err := amqp.NewDriver(rawURL, aopts...)
	if err != nil {
		t.Fatal(err)
	}
	e.clean.exchange(drv.Exchange())
	tr, err := transport.New(drv, topts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Errorf("close transport: %v", err)
		}
	})
	return recTransport{Portable: tr, drv: drv, clean: e.clean}
}

// admin opens a raw amqp091 channel for the test.
func admin(t testing.TB, rawURL string) *amqp091.Channel {
	t.Helper()
	conn, err := amqp091.Dial(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
