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
	sys   *system
	fl    *flow
	store *crashableStore

	mu      sync.Mutex
	p       *projection.Projection[portfolio, events.ExecutionReport]
	cancel  context.CancelFunc
	done    chan error
	kills   int
	stopped bool
	failed  chan error // a projection that stopped on its own
}

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
	svc := &portfolioService{tr: tr, sys: sys, fl: fl, store: &crashableStore{Store: store}, failed: make(chan error, 1)}
	if err := svc.start(ctx); err != nil {
		return nil, err
	}
	sys.portfolioSvc.Store(svc)
	return svc, nil
}

// start runs a new projection and waits until it has caught up.
func (svc *portfolioService) start(ctx context.Context) error {
	p, err := projection.New(svc.tr, projection.Config[portfolio, events.ExecutionReport]{
		Name: "portfolio", Pattern: "exec.#", Init: newPortfolio,
		Apply: svc.apply, Store: svc.store, StateVersion: portfolioStateVersion,
		SnapshotEvery: 50, Logger: svc.sys.log,
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() {
		err := p.Run(runCtx)
		done <- err
		if err != nil {
			select {
			case svc.failed <- fmt.Errorf("portfolio projection: %w", err):
			default:
			}
		}
	}()
	select {
	case <-p.CaughtUp():
	case err := <-done:
		cancel()
		return fmt.Errorf("portfolio projection: %w", err)
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
	svc.mu.Lock()
	svc.p, svc.cancel, svc.done = p, cancel, done
	svc.mu.Unlock()
	svc.sys.log.Info("portfolio caught up", "applied", p.Applied(), "restarts", svc.kills)
	return nil
}

// apply is the projection's fold: book the report, publish the positions
// it changes, and count it done for the run.
func (svc *portfolioService) apply(ctx context.Context, pf *portfolio, r events.ExecutionReport) error {
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
	svc.cancel()
	err := <-svc.done
	svc.store.dead.Store(false)
	svc.mu.Unlock()
	if err != nil {
		return err
	}
	svc.sys.log.Info("portfolio killed; restarting from its last snapshot")
	return svc.start(ctx)
}

// stop ends the projection (saving a last snapshot).
func (svc *portfolioService) stop() error {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.stopped {
		return nil
	}
	svc.stopped = true
	svc.cancel()
	return <-svc.done
}

func (svc *portfolioService) stats() PortfolioStats {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return PortfolioStats{Projection: true, Restarts: svc.kills, Applied: svc.p.Applied(), Snapshots: int(svc.store.saves.Load())}
}

func (svc *portfolioService) view(fn func(*portfolio)) {
	svc.mu.Lock()
	p := svc.p
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
