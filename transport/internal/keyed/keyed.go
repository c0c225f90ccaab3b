// Package keyed runs work with bounded concurrency while keeping the order
// of work that shares a key: at most Max functions are queued or running,
// never two of one key at once, and those of one key run in submission
// order. Transports use it to hand a Watermill router up to N messages at a
// time while each partition key (symbol) stays in order.
package keyed

import (
	"context"
	"sync"
)

// Pool is safe for concurrent use. The zero value is not usable; call New.
type Pool struct {
	sem chan struct{}

	mu     sync.Mutex
	lanes  map[string][]func()
	active int
	idle   chan struct{} // closed while active == 0
}

// New returns a Pool with at most max functions queued or running. max < 1
// is treated as 1, which serialises everything.
func New(max int) *Pool {
	if max < 1 {
		max = 1
	}
	idle := make(chan struct{})
	close(idle)
	return &Pool{
		sem:   make(chan struct{}, max),
		lanes: make(map[string][]func()),
		idle:  idle,
	}
}

// Max returns the pool's bound.
func (p *Pool) Max() int { return cap(p.sem) }

// Submit queues fn under key. It blocks while Max functions are queued or
// running (backpressure) and returns ctx.Err() if ctx ends first, in which
// case fn never runs. fn runs on a goroutine owned by the pool after every
// earlier fn of the same key has returned.
func (p *Pool) Submit(ctx context.Context, key string, fn func()) error {
	// A select with a free slot and a done ctx picks either case at
	// random: check ctx first so that a cancelled ctx never runs fn.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	if p.active == 0 {
		p.idle = make(chan struct{})
	}
	p.active++
	q, running := p.lanes[key]
	p.lanes[key] = append(q, fn)
	p.mu.Unlock()
	if !running {
		go p.runLane(key)
	}
	return nil
}

func (p *Pool) runLane(key string) {
	for {
		p.mu.Lock()
		q := p.lanes[key]
		if len(q) == 0 {
			delete(p.lanes, key)
			p.mu.Unlock()
			return
		}
		fn := q[0]
		q[0] = nil
		p.lanes[key] = q[1:]
		p.mu.Unlock()

		fn()

		p.mu.Lock()
		p.active--
		if p.active == 0 {
			close(p.idle)
		}
		p.mu.Unlock()
		<-p.sem
	}
}

// Wait blocks until no function is queued or running, or ctx ends.
func (p *Pool) Wait(ctx context.Context) error {
	p.mu.Lock()
	ch := p.idle
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
