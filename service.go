package tradebus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// ErrInvalidOption is wrapped by every error NewService returns for a bad
// option or argument.
var ErrInvalidOption = errors.New("tradebus: invalid option")

// DefaultShutdownTimeout bounds closing the transport after Run's drain.
const DefaultShutdownTimeout = 30 * time.Second

// Service is the short path for the common case: one service consuming as
// one consumer group on one transport, typed handlers behind
// middleware.Default built for that group (the group is stated once), a
// publisher on the same transport, and a graceful shutdown on SIGINT or
// SIGTERM. Every piece stays reachable (Transport, Stack, Group,
// Publisher) for what the short path does not cover.
//
// Register handlers with subscriber.On(svc.Group(), pattern, fn), then
// Run. A Service is safe for concurrent use; its zero value is not usable
// (call NewService or NewServiceOn).
type Service struct {
	tr       transport.Transport
	owned    bool
	group    string
	stack    *middleware.Stack
	g        *subscriber.Group
	pub      *publisher.Publisher
	sigs     []os.Signal
	shutdown time.Duration
	stopping chan struct{}

	stopOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
}

type config struct {
	mw       []middleware.Option
	inner    []message.HandlerMiddleware
	pub      []publisher.Option
	tr       []transport.Option
	sigs     []os.Signal
	shutdown time.Duration
}

// Option configures NewService and NewServiceOn.
type Option func(*config) error

// WithMiddleware passes opts to middleware.Default, after
// WithConsumerGroup(group): a dedup store, retry attempts and backoff,
// WithPoisonKept, a logger. A WithConsumerGroup among them that names
// another group is an error wrapping subscriber.ErrGroupMismatch. Default:
// none (the default stack).
func WithMiddleware(opts ...middleware.Option) Option {
	return func(c *config) error {
		c.mw = append(c.mw, opts...)
		return nil
	}
}

// WithHandlerMiddleware adds middleware inside the default stack, around
// every handler (metrics, tracing), first outermost. Default: none.
func WithHandlerMiddleware(mw ...message.HandlerMiddleware) Option {
	return func(c *config) error {
		for i, m := range mw {
			if m == nil {
				return fmt.Errorf("%w: handler middleware %d is nil", ErrInvalidOption, i)
			}
		}
		c.inner = append(c.inner, mw...)
		return nil
	}
}

// WithPublisher passes opts to publisher.New for Publisher (e.g.
// publisher.WithSource). Default: none.
func WithPublisher(opts ...publisher.Option) Option {
	return func(c *config) error {
		c.pub = append(c.pub, opts...)
		return nil
	}
}

// WithTransportOptions passes opts to transport.Open (NewService only;
// NewServiceOn rejects it: the transport is already open). Default: none.
func WithTransportOptions(opts ...transport.Option) Option {
	return func(c *config) error {
		c.tr = append(c.tr, opts...)
		return nil
	}
}

// WithSignals sets the signals that make Run shut down gracefully; none
// (WithSignals()) leaves shutdown to Run's ctx alone, e.g. when the
// program handles signals itself. Default: SIGINT and SIGTERM.
func WithSignals(sigs ...os.Signal) Option {
	return func(c *config) error {
		for i, s := range sigs {
			if s == nil {
				return fmt.Errorf("%w: signal %d is nil", ErrInvalidOption, i)
			}
		}
		c.sigs = append([]os.Signal{}, sigs...)
		return nil
	}
}

// WithShutdownTimeout bounds closing the transport once Run's handlers
// have drained (the drain itself is bounded by the transport's
// close_timeout). Default: DefaultShutdownTimeout (30s).
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: shutdown timeout %v, want > 0", ErrInvalidOption, d)
		}
		c.shutdown = d
		return nil
	}
}

// NewService opens the transport at url (its driver must be imported, e.g.
// github.com/tradebus/tradebus/transport/all) and builds a Service
// consuming as group on it. The Service owns the transport: Run and Close
// close it.
func NewService(ctx context.Context, url, group string, opts ...Option) (*Service, error) {
	c, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := transport.ValidateGroup(group); err != nil {
		return nil, err
	}
	tr, err := transport.Open(ctx, url, c.tr...)
	if err != nil {
		return nil, err
	}
	s, err := newService(tr, group, c)
	if err != nil {
		return nil, errors.Join(err, tr.Close(ctx))
	}
	s.owned = true
	return s, nil
}

// NewServiceOn builds a Service consuming as group on tr, which the caller
// keeps owning: Run and Close leave it open.
func NewServiceOn(tr transport.Transport, group string, opts ...Option) (*Service, error) {
	if tr == nil {
		return nil, fmt.Errorf("%w: nil transport", ErrInvalidOption)
	}
	c, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	if len(c.tr) > 0 {
		return nil, fmt.Errorf("%w: WithTransportOptions with NewServiceOn (the transport is open already)", ErrInvalidOption)
	}
	return newService(tr, group, c)
}

func buildConfig(opts []Option) (config, error) {
	c := config{sigs: []os.Signal{os.Interrupt, syscall.SIGTERM}, shutdown: DefaultShutdownTimeout}
	for i, opt := range opts {
		if opt == nil {
			return c, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i)
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func newService(tr transport.Transport, group string, c config) (*Service, error) {
	stack, err := middleware.Default(tr.Publisher(), append([]middleware.Option{middleware.WithConsumerGroup(group)}, c.mw...)...)
	if err != nil {
		return nil, err
	}
	if sg := stack.ConsumerGroup(); sg != group {
		return nil, fmt.Errorf("%w: the service consumes as %q, WithMiddleware names %q (middleware.WithConsumerGroup)",
			subscriber.ErrGroupMismatch, group, sg)
	}
	sub, err := tr.Subscriber(group)
	if err != nil {
		return nil, err
	}
	g, err := subscriber.NewGroupWithStack(sub, stack, c.inner...)
	if err != nil {
		return nil, err
	}
	pub, err := publisher.New(tr.Publisher(), c.pub...)
	if err != nil {
		return nil, err
	}
	return &Service{
		tr: tr, group: group, stack: stack, g: g, pub: pub,
		sigs: c.sigs, shutdown: c.shutdown, stopping: make(chan struct{}),
	}, nil
}

// Group returns the consumer group's handler set: register handlers with
// subscriber.On(svc.Group(), pattern, fn) before Run.
func (s *Service) Group() *subscriber.Group { return s.g }

// Publisher returns a typed publisher on the service's transport. Events
// published with a handler's ctx chain correlation and causation ids.
func (s *Service) Publisher() *publisher.Publisher { return s.pub }

// Transport returns the service's transport.
func (s *Service) Transport() transport.Transport { return s.tr }

// Stack returns the middleware stack (its Poison, Retry and Dedup expose
// counters and settings).
func (s *Service) Stack() *middleware.Stack { return s.stack }

// ConsumerGroup returns the group the service consumes as.
func (s *Service) ConsumerGroup() string { return s.group }

// Running is closed once every handler's subscription is established:
// events published from then on reach the handlers.
func (s *Service) Running() <-chan struct{} { return s.g.Running() }

// Stopping is closed when Run begins to shut down (its ctx ended or a
// signal arrived), for instance to fail a readiness probe while the
// handlers drain.
func (s *Service) Stopping() <-chan struct{} { return s.stopping }

// Run subscribes every handler and runs them until ctx ends or one of the
// signals arrives (SIGINT, SIGTERM; see WithSignals), then drains: the
// handlers finish what they hold and it is acked, what they did not get
// goes back to the broker. Then it closes the transport if the Service
// owns it (NewService). After the first signal the signals are released,
// so a second one ends the process the default way.
//
// Run returns nil after a graceful shutdown, and an error if a
// subscription could not start (then no handler runs), the drain was cut
// short, or closing the transport failed. Run may be called once.
func (s *Service) Run(ctx context.Context) error {
	release := func() {}
	if len(s.sigs) > 0 {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, s.sigs...)
		defer stop()
		release = stop
	}
	stopped := context.AfterFunc(ctx, func() {
		release() // first, so that a second signal is not swallowed once Stopping is closed
		s.markStopping()
	})
	defer stopped()
	err := s.g.Run(ctx)
	s.markStopping()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdown)
	defer cancel()
	return errors.Join(err, s.Close(cctx))
}

func (s *Service) markStopping() { s.stopOnce.Do(func() { close(s.stopping) }) }

// Close closes the transport if the Service owns it (NewService), for a
// Service that is never Run; Run closes it by itself. It is idempotent.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if s.owned {
			s.closeErr = s.tr.Close(ctx)
		}
	})
	return s.closeErr
}
