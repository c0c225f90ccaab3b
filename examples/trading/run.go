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
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/rpc"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// Config is one run of the trading system.
type Config struct {
	URL       string        // transport URL
	Namespace string        // the run's own exchange / prefix on the broker; "" = the URL's
	Seed      uint64        // simulator seed
	Ticks     int           // ticks per symbol and exchange
	Timeout   time.Duration // for the whole run
	Chaos     int           // inject this many handler failures, duplicates and malformed events
	Logger    *slog.Logger
	// TransportOptions go to transport.Open (observability.go: tracer and
	// meter providers).
	TransportOptions []transport.Option

	// Progress, if set, is called after each event is done with (handled,
	// skipped as a duplicate or dead-lettered), with the count of distinct
	// events done so far. Tests use it to act at a point of the run.
	Progress func(done int64)

	// KillPortfolioAt, if > 0 on a transport that keeps history, kills the
	// portfolio projection when that many events are done — as a crash:
	// nothing it did since its last snapshot is kept — and restarts it
	// from its snapshot and the history.
	KillPortfolioAt int64
	// Snapshots keeps the portfolio projection's snapshots (nil: in
	// memory, for the run).
	Snapshots projection.Store
	// Meter, if set, gets the portfolio projection's metrics
	// (tradebus.projection.*; the transport's come through
	// TransportOptions).
	Meter metric.MeterProvider
	// Tracer, if set, gives the portfolio projection a span per fill it
	// applies, so the positions it publishes continue the fill's trace.
	Tracer trace.TracerProvider
}

func defaultConfig() Config {
	return Config{URL: defaultURL, Namespace: "example", Seed: 42, Ticks: 150, Timeout: 2 * time.Minute}
}

// defaultURL is the in-process transport, keeping enough history for the
// portfolio projection to rebuild from.
const defaultURL = "mem://?history=1000000"

// Publisher retry: enough to ride out a broker restart (RabbitMQ's
// stop_app/start_app takes seconds), always bounded by the run's ctx.
const (
	publishAttempts   = 100
	publishBackoff    = 50 * time.Millisecond
	publishMaxBackoff = 2 * time.Second
)

// flow tracks events by id: published (sent at least once) and done
// (handled, skipped as a duplicate, or dead-lettered — acked, either way).
// An event is done only after its handler's own publishes were sent, so
// when every published event is done, nothing more can come: the run is
// over. Ids, not counts, so that a publisher resend of the same event, a
// redelivery and an injected duplicate all count once.
type flow struct {
	published sync.Map // event id → struct{}
	nPub      atomic.Int64
	resent    atomic.Int64 // sends of an id already sent
	done      sync.Map
	nDone     atomic.Int64
	progress  func(int64)
}

func (f *flow) sent(id string) {
	if _, dup := f.published.LoadOrStore(id, struct{}{}); dup {
		f.resent.Add(1)
		return
	}
	f.nPub.Add(1)
}

func (f *flow) idle() bool { return f.nPub.Load() == f.nDone.Load() }

// track is the outermost middleware of every handler: a nil error means
// the delivery is acked, so the event is done.
func (f *flow) track(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err == nil {
			f.markDone(msg.UUID)
		}
		return out, err
	}
}

// countingPublisher records each message's id before it is sent, so that
// published ≥ done at every instant.
type countingPublisher struct {
	message.Publisher
	flow *flow
}

// markDone counts event id done (once); it reports whether this was the
// first time.
func (f *flow) markDone(id string) bool {
	if _, again := f.done.LoadOrStore(id, struct{}{}); again {
		return false
	}
	n := f.nDone.Add(1)
	if f.progress != nil {
		f.progress(n)
	}
	return true
}

func (p countingPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		p.flow.sent(m.UUID)
	}
	return p.Publisher.Publish(topic, msgs...)
}

// PublishBatch keeps the transport's pipelined batch path (publisher.Publish
// uses it when the publisher has it): one confirm wait per call, not per
// routing key.
func (p countingPublisher) PublishBatch(ctx context.Context, msgs []*message.Message) error {
	for _, m := range msgs {
		p.flow.sent(m.UUID)
	}
	return p.Publisher.(transport.BatchPublisher).PublishBatch(ctx, msgs)
}

// Run runs the whole system once and returns its summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ticks < 1 {
		return nil, fmt.Errorf("ticks must be ≥ 1, got %d", cfg.Ticks)
	}
	if cfg.Chaos < 0 || cfg.Chaos > cfg.Ticks {
		return nil, fmt.Errorf("chaos must be 0 to ticks (%d), got %d", cfg.Ticks, cfg.Chaos)
	}
	rawURL, err := namespaced(cfg.URL, cfg.Namespace)
	if err != nil {
		return nil, err
	}
	tr, closeBroker, err := openBroker(ctx, rawURL, cfg.TransportOptions...)
	if err != nil {
		return nil, err
	}
	defer closeBroker()

	fl := &flow{progress: cfg.Progress}
	// The kill of the portfolio (KillPortfolioAt) runs beside the flow:
	// the event that reaches the count is not held up by the restart.
	var (
		killOnce sync.Once
		killWG   sync.WaitGroup
		killErr  = make(chan error, 1)
		svcReady = make(chan *portfolioService, 1)
	)
	defer killWG.Wait()
	if cfg.KillPortfolioAt > 0 {
		progress := fl.progress
		fl.progress = func(n int64) {
			if progress != nil {
				progress(n)
			}
			if n < cfg.KillPortfolioAt {
				return
			}
			killOnce.Do(func() {
				killWG.Add(1)
				go func() {
					defer killWG.Done()
					svc := <-svcReady
					svcReady <- svc
					if svc == nil {
						return
					}
					if err := svc.kill(ctx); err != nil {
						killErr <- fmt.Errorf("portfolio restart: %w", err)
					}
				}()
			})
		}
	}
	counting := countingPublisher{tr.Publisher(), fl}
	pub, err := publisher.New(counting,
		publisher.WithSource("/tradebus/examples/trading"),
		publisher.WithRetry(publishAttempts, publishBackoff, publishMaxBackoff))
	if err != nil {
		return nil, err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second},
		// Watermill's own Info lines (handler added, router closed) go to Debug.
		watermill.NewSlogLoggerWithLevelMapping(cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
	if err != nil {
		return nil, err
	}
	sys := newSystem(cfg, pub, counting)
	// The executor's side of the pre-trade check (request-reply); its reply
	// group is removed from the broker when it closes.
	if sys.rpc, err = rpc.NewClient(ctx, tr.Transport, rpc.WithLogger(cfg.Logger)); err != nil {
		return nil, fmt.Errorf("pre-trade client: %w", err)
	}
	defer func() { _ = sys.rpc.Close(context.WithoutCancel(ctx)) }()
	if sys.rpcSrv, err = rpc.NewServer(tr.Publisher(), publisher.WithSource("/tradebus/examples/trading")); err != nil {
		return nil, err
	}
	history := transport.Replayable(tr.Transport)
	if err := sys.register(router, tr, fl, history); err != nil {
		return nil, err
	}
	if history {
		store := cfg.Snapshots
		if store == nil {
			store = &projection.MemStore{}
		}
		svc, err := startPortfolio(ctx, tr.Transport, sys, fl, store)
		svcReady <- svc
		if err != nil {
			return nil, err
		}
		defer func() { _ = svc.stop() }()
	} else {
		svcReady <- nil
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
	// Over when every event is done and every injected duplicate came back
	// (and was skipped).
	over := func() bool {
		return fl.idle() && sys.stats().Duplicates >= uint64(sys.chaos.duplicates.Load())
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !over() {
		select {
		case <-tick.C:
		case err := <-routerErr:
			return nil, fmt.Errorf("router stopped early: %w", err)
		case err := <-killErr:
			return nil, err
		case err := <-sys.portfolioFailed():
			return nil, err
		case <-ctx.Done():
			return nil, fmt.Errorf("not finished (%d of %d events done): %w", fl.nDone.Load(), fl.nPub.Load(), ctx.Err())
		}
	}
	if err := router.Close(); err != nil {
		return nil, fmt.Errorf("close router: %w", err)
	}
	if err := <-routerErr; err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	killWG.Wait()
	if svc := sys.portfolioSvc.Load(); svc != nil {
		if err := svc.stop(); err != nil {
			return nil, fmt.Errorf("portfolio projection: %w", err)
		}
	}
	sum := sys.summary()
	if svc := sys.portfolioSvc.Load(); svc != nil {
		sum.Portfolio = svc.stats()
	}
	sum.Transport = tr.Name
	sum.Bus.Published = fl.nPub.Load()
	// Sends of an id already sent, but for the duplicates -chaos made.
	sum.Bus.Resent = fl.resent.Load() - sys.chaos.duplicates.Load()
	return sum, nil
}

// handle registers fn behind the flow tracker and the group's reliability
// stack, and counts its successful calls.
func handle[T events.Event](r *message.Router, sub message.Subscriber, stack *middleware.Stack, pattern, name string, s *system, fl *flow, fn subscriber.Func[T]) error {
	h, err := subscriber.Handle(r, sub, pattern, func(ctx context.Context, ev T) error {
		if err := s.chaos.fail(ctx); err != nil {
			return err
		}
		if err := fn(ctx, ev); err != nil {
			return err
		}
		s.count(ev.EventType())
		return nil
	}, subscriber.WithName(name))
	if err != nil {
		return err
	}
	h.AddMiddleware(append([]message.HandlerMiddleware{fl.track}, stack.Middlewares()...)...)
	return nil
}

// groups are the consumer groups of the example and what they subscribe.
var groups = []struct{ group, pattern, handler string }{
	{"strategy", "ticker.#", "strategy"},
	{"executor", "signal.#", "executor"},
	{"venue", "order.*.*", "venue"},
	{"portfolio", "exec.#", "portfolio-fills"},
	{"portfolio", "trade.*.*", "portfolio-marks"},
	{"risk", "position.#", "risk"},
	{"pretrade", rpc.Pattern(preTradeService, "order.#"), "pretrade"},
}

// deadLetterReader is the consumer group whose subscriptions keep the dead
// letters, the group cmd/tradebus-dlq reads as by default.
const deadLetterReader = "dlq"

// register subscribes every service's consumer group; with history, the
// portfolio's fills are its projection's instead (startPortfolio).
func (s *system) register(r *message.Router, tr *broker, fl *flow, history bool) error {
	stacks := map[string]*middleware.Stack{}
	subs := map[string]message.Subscriber{}
	dlq, err := tr.Subscriber(deadLetterReader)
	if err != nil {
		return fmt.Errorf("subscriber %s: %w", deadLetterReader, err)
	}
	for _, g := range groups {
		if history && g.handler == "portfolio-fills" {
			continue
		}
		st, sub := stacks[g.group], subs[g.group]
		if st == nil {
			if sub, err = tr.Subscriber(g.group); err != nil {
				return fmt.Errorf("subscriber %s: %w", g.group, err)
			}
			// Correlation → poison queue → retry → dedup → recoverer, per group:
			// a failing handler is retried, then dead-lettered to
			// "deadletter.<group>", kept there for the "dlq" reader
			// (tradebus-dlq list/replay); redelivered duplicates are skipped.
			st, err = middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(g.group),
				middleware.WithPoisonKept(dlq), middleware.WithLogger(s.log))
			if err != nil {
				return err
			}
			stacks[g.group], subs[g.group] = st, sub
			s.stacks = append(s.stacks, st)
		}
		switch g.handler {
		case "strategy":
			err = handle(r, sub, st, g.pattern, g.handler, s, fl, s.onTicker)
		case "executor":
			err = handle(r, sub, st, g.pattern, g.handler, s, fl, s.onSignal)
		case "venue":
			err = handle(r, sub, st, g.pattern, g.handler, s, fl, s.onOrder)
		case "portfolio-fills":
			err = handle(r, sub, st, g.pattern, g.handler, s, fl, s.onExec)
		case "portfolio-marks":
			err = handle(r, sub, st, g.pattern, g.handler, s, fl, s.onTrade)
		case "risk":
			err = handle(r, sub, st, g.pattern, g.handler, s, fl, s.onPosition)
		case "pretrade":
			// A request-reply handler: not an event of the flow (the
			// signal that asks waits for it), so not tracked, no chaos.
			var h *message.Handler
			h, err = subscriber.Handle(r, sub, g.pattern, rpc.Handler(s.rpcSrv, s.preTrade), subscriber.WithName(g.handler))
			if err == nil {
				h.AddMiddleware(st.Middlewares()...)
			}
		}
		if err != nil {
			return fmt.Errorf("handler %s: %w", g.handler, err)
		}
	}
	return nil
}

// stats adds up the counters of every group's middleware stack.
func (s *system) stats() BusStats {
	var b BusStats
	for _, st := range s.stacks {
		b.Retries += st.Retry.Retried()
		b.DeadLetters += st.Poison.Published()
		b.Duplicates += st.Dedup.Stats().Duplicates
	}
	return b
}

// broker is an open transport plus its display name.
type broker struct {
	transport.Transport
	Name string
}

// system holds the state of every service of the example. Handlers for
// different symbols run concurrently, so each service guards its state.
type system struct {
	cfg    Config
	pub    *publisher.Publisher
	raw    message.Publisher // for the injected duplicates and malformed events
	log    *slog.Logger
	chaos  *chaos
	stacks []*middleware.Stack
	rpc    *rpc.Client // the executor's pre-trade checks
	rpcSrv *rpc.Server // the risk service's answers

	strategyMu sync.Mutex
	series     map[string]*series // exchange|symbol

	executorMu sync.Mutex
	decisions  map[string]string        // pre-trade answers by client order id: "" approved, else why refused
	signals    map[string]events.Signal // exchange|symbol|tick → the signal

	venueMu sync.Mutex
	orders  map[string]events.Order // ClOrdID → the order

	portfolioMu  sync.Mutex
	pf           portfolio // without history; else portfolioSvc's projection
	portfolioSvc atomic.Pointer[portfolioService]
	lastTrade    map[string]events.Trade

	riskMu sync.Mutex
	risk   map[string]map[time.Time]events.Decimal // exchange|symbol → position time → exposure

	counts sync.Map // event type → *atomic.Int64
}

func newSystem(cfg Config, pub *publisher.Publisher, raw message.Publisher) *system {
	return &system{
		cfg:       cfg,
		pub:       pub,
		raw:       raw,
		log:       cfg.Logger,
		chaos:     newChaos(cfg.Chaos),
		series:    map[string]*series{},
		signals:   map[string]events.Signal{},
		orders:    map[string]events.Order{},
		pf:        newPortfolio(),
		lastTrade: map[string]events.Trade{},
		risk:      map[string]map[time.Time]events.Decimal{},
		decisions: map[string]string{},
	}
}

func (s *system) count(kind string) {
	v, _ := s.counts.LoadOrStore(kind, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}
