package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/transport"
)

// portfolioStateVersion is the version of the portfolio's snapshot
// encoding (projection.Config.StateVersion).
const portfolioStateVersion = 1

// portfolioService runs the portfolio as a projection of the execution
// reports on a transport that keeps history: it rebuilds from its last
// snapshot and the history after it, serves (the run starts trading) only
// once caught up, then books live reports. kill stops it as a crash
// would — nothing it does from then on is saved — and starts a new one
// from the snapshot store, which must reach the same portfolio.
type portfolioService struct {
	tr    transport.Transport
	ctx   context.Context // the run's
	sys   *system
	fl    *flow
	store *crashableStore

	mu      sync.Mutex
	run     *portfolioRun // the latest projection
	kills   int
	stopped bool
	failed  chan error // a projection that stopped on its own
}

// portfolioRun is one projection and its Run.
type portfolioRun struct {
	p        *projection.Projection[portfolio, events.ExecutionReport]
	cancel   context.CancelFunc
	finished chan struct{} // closed when Run has returned err
	err      error
}

// end cancels the run and returns what Run returned.
func (r *portfolioRun) end() error {
	r.cancel()
	<-r.finished
	return r.err
}

// valuesOf is Context (its deadline and cancellation) with the values of
// values (the event's envelope and position).
type valuesOf struct {
	context.Context
	values context.Context
}

func (v valuesOf) Value(key any) any { return v.values.Value(key) }

// crashableStore is a snapshot store whose saves can be dropped, as those
// of a killed process are.
type crashableStore struct {
	projection.Store
	dead  atomic.Bool
	saves atomic.Int64
}

func (c *crashableStore) Save(ctx context.Context, name string, s projection.Snapshot) error {
	if c.dead.Load() {
		return nil
	}
	if err := c.Store.Save(ctx, name, s); err != nil {
		return err
	}
	c.saves.Add(1)
	return nil
}

func startPortfolio(ctx context.Context, tr transport.Transport, sys *system, fl *flow, store projection.Store) (*portfolioService, error) {
	svc := &portfolioService{tr: tr, ctx: ctx, sys: sys, fl: fl, store: &crashableStore{Store: store}, failed: make(chan error, 1)}
	if err := svc.start(ctx); err != nil {
		if svc.run != nil {
			_ = svc.stop()
		}
		return nil, err
	}
	sys.portfolioSvc.Store(svc)
	return svc, nil
}

// start runs a new projection and waits until it has caught up. A
// projection that fails later is reported on svc.failed.
func (svc *portfolioService) start(ctx context.Context) error {
	p, err := projection.New(svc.tr, projection.Config[portfolio, events.ExecutionReport]{
		Name: "portfolio", Pattern: "exec.#", Init: newPortfolio,
		Apply: svc.apply, Store: svc.store, StateVersion: portfolioStateVersion,
		SnapshotEvery: 50, Logger: svc.sys.log, MeterProvider: svc.sys.cfg.Meter,
		TracerProvider: svc.sys.cfg.Tracer,
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &portfolioRun{p: p, cancel: cancel, finished: make(chan struct{})}
	svc.mu.Lock()
	if svc.stopped {
		svc.mu.Unlock()
		cancel()
		return nil
	}
	svc.run = r // stop ends it from now on
	svc.mu.Unlock()
	go func() {
		r.err = p.Run(runCtx)
		close(r.finished)
		if r.err != nil {
			select {
			case svc.failed <- fmt.Errorf("portfolio projection: %w", r.err):
			default:
			}
		}
	}()
	select {
	case <-p.CaughtUp():
	case <-r.finished:
		return fmt.Errorf("portfolio projection: %w", r.err)
	case <-ctx.Done():
		return ctx.Err() // stop ends it
	}
	svc.sys.log.Info("portfolio caught up", "applied", p.Applied(), "restarts", svc.kills)
	return nil
}

// apply is the projection's fold: book the report, publish the positions
// it changes, and count it done for the run.
//
// The positions are published under the run's ctx, not the projection's:
// a kill lets a fill's publish finish, so that every event the run counts
// as published is sent (the flow waits for each to be done). A crashed
// process loses such a publish; the restarted projection re-applies the
// fill and publishes its positions again, as new events.
func (svc *portfolioService) apply(ctx context.Context, pf *portfolio, r events.ExecutionReport) error {
	ctx = valuesOf{Context: svc.ctx, values: ctx}
	if err := svc.sys.applyExec(ctx, pf, r); err != nil {
		return err
	}
	if env, ok := events.EnvelopeFromContext(ctx); ok && svc.fl.markDone(env.ID) {
		svc.sys.count(r.EventType())
	}
	return nil
}

// kill stops the running projection as a crash: its snapshots from now on
// are lost. Then it starts a new one from the store.
func (svc *portfolioService) kill(ctx context.Context) error {
	svc.mu.Lock()
	if svc.stopped {
		svc.mu.Unlock()
		return nil
	}
	svc.kills++
	svc.store.dead.Store(true)
	err := svc.run.end()
	svc.store.dead.Store(false)
	_ = svc.run.p.Close() // its metrics: the new one reports from its snapshot on
	svc.mu.Unlock()
	if err != nil {
		return err
	}
	svc.sys.log.Info("portfolio killed; restarting from its last snapshot")
	return svc.start(ctx)
}

// stop ends the projection (saving a last snapshot). Its metrics stay
// registered, for a last scrape, until the meter provider shuts down.
func (svc *portfolioService) stop() error {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.stopped {
		return nil
	}
	svc.stopped = true
	return svc.run.end()
}

func (svc *portfolioService) stats() PortfolioStats {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return PortfolioStats{Projection: true, Restarts: svc.kills, Applied: svc.run.p.Applied(), Snapshots: int(svc.store.saves.Load())}
}

func (svc *portfolioService) view(fn func(*portfolio)) {
	svc.mu.Lock()
	p := svc.run.p
	svc.mu.Unlock()
	p.View(fn)
}

// portfolioFailed reports a portfolio projection that stopped on its own
// (nil channel without one: never ready).
func (s *system) portfolioFailed() <-chan error {
	if svc := s.portfolioSvc.Load(); svc != nil {
		return svc.failed
	}
	return nil
}
