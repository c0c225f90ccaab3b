// Package keyed runs work with bounded concurrency while keeping the order
// of work that shares a key: at most Max items are queued or running,
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
// ready key (one with queued items and no worker), runs the pool's
// function on that key's next item,
// and puts the key back at the end of the ready list while it has more, so
// that keys share the workers fairly. A worker with nothing left to run
// looks again a few times (yielding the processor), because the submitter
// it just unblocked is usually about to hand it the next item; then it exits.
// Reusing workers this way avoids starting a goroutine (and growing its
// stack) per item.
type Pool[T any] struct {
	sem chan struct{}
	run func(T)

	mu      sync.Mutex
	lanes   map[string]*lane[T] // keys with queued or running items
	ready   []*lane[T]          // FIFO of lanes with queued items and no worker
	free    []*lane[T]          // emptied lanes, for reuse (at most Max)
	head    int                 // ready[head:] is the queue
	workers int                 // worker goroutines started and not yet exited
	busy    int                 // workers running an item
	active  int                 // items queued or running
	idle    chan struct{}       // closed while active == 0
}

// lane is the queue of one key: items[head:]. owned is true while a
// worker runs one of its items or it is in the ready list. Emptied lanes
// are kept for reuse, with their items' capacity: a key whose work drains
// between messages (the common case) costs no allocation.
type lane[T any] struct {
	key   string
	items []T
	head  int
	owned bool
}

// lingerYields is how often an idle worker yields and looks again for
// work before it exits.
const lingerYields = 3

// New returns a Pool running run on every submitted item, with at most
// max items queued or running. max < 1 is treated as 1, which serialises
// everything. (A Pool[func()] with run calling its item runs functions.)
func New[T any](max int, run func(T)) *Pool[T] {
	if max < 1 {
		max = 1
	}
	idle := make(chan struct{})
	close(idle)
	return &Pool[T]{
		sem:   make(chan struct{}, max),
		run:   run,
		lanes: make(map[string]*lane[T]),
		idle:  idle,
	}
}

// Max returns the pool's bound.
func (p *Pool[T]) Max() int { return cap(p.sem) }

// Submit queues item under key. It blocks while Max items are queued or
// running (backpressure) and returns ctx.Err() if ctx ends first, in which
// case item never runs. The pool's function runs on item on a goroutine
// owned by the pool after it has returned for every earlier item of the
// same key.
func (p *Pool[T]) Submit(ctx context.Context, key string, item T) error {
	// A select with a free slot and a done ctx picks either case at
	// random: check ctx first so that a cancelled ctx never runs item.
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
		if n := len(p.free); n > 0 {
			l = p.free[n-1]
			p.free[n-1] = nil
			p.free = p.free[:n-1]
			l.key = key
		} else {
			l = &lane[T]{key: key}
		}
		p.lanes[key] = l
	}
	if l.head > 0 && len(l.items) == cap(l.items) {
		// A key that never drains: reuse the room of the items run.
		n := copy(l.items, l.items[l.head:])
		clear(l.items[n:])
		l.items, l.head = l.items[:n], 0
	}
	l.items = append(l.items, item)
	start := false
	if !l.owned {
		l.owned = true
		p.ready = append(p.ready, l)
		// Start a worker unless every ready lane has an idle one (not
		// running an item) to take it. Workers never exceed Max: ready lanes
		// plus running items never exceed the semaphore's count.
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

func (p *Pool[T]) readyLen() int { return len(p.ready) - p.head }

// popReady takes the next ready lane; p.mu is held.
func (p *Pool[T]) popReady() *lane[T] {
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

func (p *Pool[T]) work() {
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
		item := l.items[l.head]
		var zero T
		l.items[l.head] = zero
		l.head++
		p.busy++
		p.mu.Unlock()

		p.run(item)

		p.mu.Lock()
		p.busy--
		if l.head < len(l.items) {
			p.ready = append(p.ready, l) // more of this key: back of the line
		} else {
			l.owned = false
			delete(p.lanes, l.key)
			l.items, l.head, l.key = l.items[:0], 0, ""
			if len(p.free) < cap(p.sem) {
				p.free = append(p.free, l)
			}
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
func (p *Pool[T]) Wait(ctx context.Context) error {
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
