package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// Config is one run of the trading system.
type Config struct {
	Broker  string        // transport URL
	Seed    uint64        // simulator seed
	Ticks   int           // ticks per symbol and exchange
	Timeout time.Duration // for the whole run
	Logger  *slog.Logger
	// TransportOptions go to transport.Open (observability.go: tracer and
	// meter providers).
	TransportOptions []transport.Option
}

func defaultConfig() Config {
	return Config{Broker: "mem://", Seed: 42, Ticks: 150, Timeout: 2 * time.Minute}
}

// flow counts events published and events handled. Every event kind in
// this program has exactly one consuming handler, so the run is over when
// the simulator is done and every published event has been handled.
type flow struct {
	published atomic.Int64
	handled   atomic.Int64
}

func (f *flow) idle() bool { return f.published.Load() == f.handled.Load() }

// countingPublisher counts messages before they are published, so that
// published ≥ handled at every instant.
type countingPublisher struct {
	message.Publisher
	flow *flow
}

func (p countingPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.flow.published.Add(int64(len(msgs)))
	return p.Publisher.Publish(topic, msgs...)
}

// PublishBatch keeps the transport's pipelined batch path (publisher.Publish
// uses it when the publisher has it): one confirm wait per call, not per
// routing key.
func (p countingPublisher) PublishBatch(ctx context.Context, msgs []*message.Message) error {
	p.flow.published.Add(int64(len(msgs)))
	return p.Publisher.(transport.BatchPublisher).PublishBatch(ctx, msgs)
}

// Run runs the whole system once and returns the final portfolio.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ticks < 1 {
		return nil, fmt.Errorf("ticks must be ≥ 1, got %d", cfg.Ticks)
	}
	tr, closeBroker, err := openBroker(ctx, cfg.Broker, cfg.TransportOptions...)
	if err != nil {
		return nil, err
	}
	defer closeBroker()

	var fl flow
	pub, err := publisher.New(countingPublisher{tr.Publisher(), &fl}, publisher.WithSource("/tradebus/examples/trading"))
	if err != nil {
		return nil, err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second},
		// Watermill's own Info lines (handler added, router closed) go to Debug.
		watermill.NewSlogLoggerWithLevelMapping(cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
	if err != nil {
		return nil, err
	}
	sys := newSystem(cfg, pub)
	if err := sys.register(router, tr, &fl); err != nil {
		return nil, err
	}

	routerErr := make(chan error, 1)
	runCtx, stopRouter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRouter()
	go func() { routerErr <- router.Run(runCtx) }()
	select {
	case <-router.Running():
	case err := <-routerErr:
		return nil, fmt.Errorf("router: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	if err := sys.simulate(ctx); err != nil {
		return nil, fmt.Errorf("market-data simulator: %w", err)
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !fl.idle() {
		select {
		case <-tick.C:
		case err := <-routerErr:
			return nil, fmt.Errorf("router stopped early: %w", err)
		case <-ctx.Done():
			return nil, fmt.Errorf("not finished (%d of %d events handled): %w", fl.handled.Load(), fl.published.Load(), ctx.Err())
		}
	}
	if err := router.Close(); err != nil {
		return nil, fmt.Errorf("close router: %w", err)
	}
	if err := <-routerErr; err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	sum := sys.summary()
	sum.Transport = tr.Name
	sum.Published = fl.published.Load()
	return sum, nil
}

// handle registers fn behind the group's reliability stack and counts its
// successful calls.
func handle[T events.Event](r *message.Router, sub message.Subscriber, stack *middleware.Stack, pattern, name string, fl *flow, fn subscriber.Func[T]) error {
	h, err := subscriber.Handle(r, sub, pattern, func(ctx context.Context, ev T) error {
		if err := fn(ctx, ev); err != nil {
			return err
		}
		fl.handled.Add(1)
		return nil
	}, subscriber.WithName(name))
	if err != nil {
		return err
	}
	h.AddMiddleware(stack.Middlewares()...)
	return nil
}

func (s *system) register(r *message.Router, tr *broker, fl *flow) error {
	type reg struct {
		group string
		add   func(sub message.Subscriber, st *middleware.Stack) error
	}
	regs := []reg{
		{"strategy", func(sub message.Subscriber, st *middleware.Stack) error {
			return handle(r, sub, st, "ticker.#", "strategy", fl, s.onTicker)
		}},
		{"executor", func(sub message.Subscriber, st *middleware.Stack) error {
			return handle(r, sub, st, "signal.#", "executor", fl, s.onSignal)
		}},
		{"venue", func(sub message.Subscriber, st *middleware.Stack) error {
			return handle(r, sub, st, "order.*.*", "venue", fl, s.onOrder)
		}},
		{"portfolio", func(sub message.Subscriber, st *middleware.Stack) error {
			if err := handle(r, sub, st, "exec.#", "portfolio-fills", fl, s.onExec); err != nil {
				return err
			}
			return handle(r, sub, st, "trade.*.*", "portfolio-marks", fl, s.onTrade)
		}},
		{"risk", func(sub message.Subscriber, st *middleware.Stack) error {
			return handle(r, sub, st, "position.#", "risk", fl, s.onPosition)
		}},
	}
	for _, rg := range regs {
		sub, err := tr.Subscriber(rg.group)
		if err != nil {
			return fmt.Errorf("subscriber %s: %w", rg.group, err)
		}
		// Correlation → poison queue → retry → dedup → recoverer, per group:
		// a failing handler is retried, then dead-lettered to
		// "deadletter.<group>"; redelivered duplicates are skipped.
		st, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(rg.group), middleware.WithLogger(s.log))
		if err != nil {
			return err
		}
		if err := rg.add(sub, st); err != nil {
			return fmt.Errorf("handler %s: %w", rg.group, err)
		}
	}
	return nil
}

// broker is an open transport plus its display name.
type broker struct {
	transport.Transport
	Name string
}

// system holds the state of every service of the example. Handlers for
// different symbols run concurrently, so each service guards its state.
type system struct {
	cfg Config
	pub *publisher.Publisher
	log *slog.Logger

	strategyMu sync.Mutex
	series     map[string]*series // exchange|symbol

	executorMu sync.Mutex
	orderSeq   map[string]int

	portfolioMu sync.Mutex
	positions   map[string]*position
	lastPrice   map[string]events.Decimal

	riskMu      sync.Mutex
	maxExposure map[string]events.Decimal

	counts sync.Map // kind → *atomic.Int64
}

func newSystem(cfg Config, pub *publisher.Publisher) *system {
	return &system{
		cfg:         cfg,
		pub:         pub,
		log:         cfg.Logger,
		series:      map[string]*series{},
		orderSeq:    map[string]int{},
		positions:   map[string]*position{},
		lastPrice:   map[string]events.Decimal{},
		maxExposure: map[string]events.Decimal{},
	}
}

func (s *system) count(kind string) {
	v, _ := s.counts.LoadOrStore(kind, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}
