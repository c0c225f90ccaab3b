// Package keyed runs work with bounded concurrency while keeping the order
// of work that shares a key: at most Max functions are queued or running,
// never two of one key at once, and those of one key run in submission
// order. Transports use it to hand a Watermill router up to N messages at a
// time while each partition key (symbol) stays in order.
package keyed

import (
	"context"
	"runtime"
	"sync"
)

// Pool is safe for concurrent use. The zero value is not usable; call New.
//
// Workers are goroutines started on demand (at most Max). A worker takes a
// ready key (one with queued fns and no worker), runs that key's next fn,
// and puts the key back at the end of the ready list while it has more, so
// that keys share the workers fairly. A worker with nothing left to run
// looks again a few times (yielding the processor), because the submitter
// it just unblocked is usually about to hand it the next fn; then it exits.
// Reusing workers this way avoids starting a goroutine (and growing its
// stack) per fn.
type Pool struct {
	sem chan struct{}

	mu      sync.Mutex
	lanes   map[string]*lane // keys with queued or running fns
	ready   []*lane          // FIFO of lanes with queued fns and no worker
	head    int              // ready[head:] is the queue
	workers int              // worker goroutines started and not yet exited
	busy    int              // workers running a fn
	active  int              // fns queued or running
	idle    chan struct{}    // closed while active == 0
}

// lane is the queue of one key. owned is true while a worker runs one of
// its fns or it is in the ready list.
type lane struct {
	key   string
	fns   []func()
	owned bool
}

// lingerYields is how often an idle worker yields and looks again for
// work before it exits.
const lingerYields = 3

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
		lanes: make(map[string]*lane),
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
	l := p.lanes[key]
	if l == nil {
		l = &lane{key: key}
		p.lanes[key] = l
	}
	l.fns = append(l.fns, fn)
	start := false
	if !l.owned {
		l.owned = true
		p.ready = append(p.ready, l)
		// Start a worker unless every ready lane has an idle one (not
		// running a fn) to take it. Workers never exceed Max: ready lanes
		// plus running fns never exceed the semaphore's count.
		if p.workers-p.busy < p.readyLen() {
			p.workers++
			start = true
		}
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
	return nil
}

func (p *Pool) readyLen() int { return len(p.ready) - p.head }

// popReady takes the next ready lane; p.mu is held.
func (p *Pool) popReady() *lane {
	if p.head == len(p.ready) {
		return nil
	}
	l := p.ready[p.head]
	p.ready[p.head] = nil
	p.head++
	if p.head == len(p.ready) {
		p.ready, p.head = p.ready[:0], 0
	}
	return l
}

func (p *Pool) work() {
	yields := 0
	p.mu.Lock()
	for {
		l := p.popReady()
		if l == nil {
			if yields == lingerYields {
				p.workers--
				p.mu.Unlock()
				return
			}
			yields++
			p.mu.Unlock()
			runtime.Gosched()
			p.mu.Lock()
			continue
		}
		yields = 0
		fn := l.fns[0]
		l.fns[0] = nil
		l.fns = l.fns[1:]
		p.busy++
		p.mu.Unlock()

		fn()

		p.mu.Lock()
		p.busy--
		if len(l.fns) > 0 {
			p.ready = append(p.ready, l) // more of this key: back of the line
		} else {
			l.owned = false
			delete(p.lanes, l.key)
		}
		p.active--
		if p.active == 0 {
			close(p.idle)
		}
		p.mu.Unlock()
		<-p.sem
		p.mu.Lock()
	}
}

// Wait blocks until no function is queued or running, or ctx ends.
func (p *Pool) Wait(ctx context.Context) error {
	p.mu.Lock()
	ch := p.idle
	p.mu.Unlock()
	// An idle pool is idle also when ctx is done already (a select with
	// both ready would pick either).
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
