package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/msgctx"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/backoff"
	"github.com/tradebus/tradebus/transport/internal/keyed"
)

// ackFlushTimeout bounds the last flush of acks when a subscription stops.
const ackFlushTimeout = 10 * time.Second

// consumer is one subscription running on the core: a receive loop that
// takes batches from the driver and hands each message to the keyed pool
// (at most concurrency in flight, never two of one partition key), the
// pool's workers that hand a message out (to the channel, or to the
// handler) and redeliver it after a nack, and an acker that sends acks and
// nacks to the driver in batches.
//
// Stopping: the receive loop ends (recvCtx) → nothing new is handed out
// and nacked messages are not redelivered but given back (drainCtx) → the
// pool drains until the deadline, then messages still out are abandoned
// and given back (abortCtx) → the acker flushes → out is closed → the
// driver subscription is closed.
type consumer struct {
	settleMu  sync.Mutex
	onSettled map[*message.Message][]func(acked bool) // OnSettled

	s       *Subscriber
	t       *Portable
	sub     driver.Subscription
	pattern string
	handler message.HandlerFunc // nil: channel mode
	out     chan *message.Message
	pool    *keyed.Pool[*driver.Message]
	log     *slog.Logger
	matched map[string]bool // matches' answers; receive's goroutine only

	recvCtx  context.Context
	stopRecv context.CancelFunc
	recvDone chan struct{}

	drainCtx context.Context
	drain    context.CancelFunc
	abortCtx context.Context
	abort    context.CancelFunc

	acks    chan ackReq
	ackDone chan struct{}

	stopOnce sync.Once
	stopErr  error // set before done is closed
	closeErr error // the driver's, set before done is closed
	done     chan struct{}
	aborted  atomic.Bool
	quiet    atomic.Bool // given back because the reader went away: no error
}

type ackReq struct {
	id   driver.AckID
	nack bool
}

// newConsumer returns the consumer of sub. The messages' contexts carry
// ctx's values but not its cancellation: they end when a message is
// settled or the consumer aborts.
func newConsumer(ctx context.Context, s *Subscriber, sub driver.Subscription, pattern string, h message.HandlerFunc) *consumer {
	t := s.t
	c := &consumer{
		s:        s,
		t:        t,
		sub:      sub,
		pattern:  pattern,
		handler:  h,
		log:      t.log.With("group", s.group, "pattern", pattern),
		recvDone: make(chan struct{}),
		acks:     make(chan ackReq, 4*t.cfg.batch),
		ackDone:  make(chan struct{}),
		done:     make(chan struct{}),
		matched:  make(map[string]bool),
	}
	if h == nil {
		c.out = make(chan *message.Message)
	}
	c.pool = keyed.New(t.cfg.concurrency, c.deliver)
	// The messages' contexts name the group (GroupFromContext).
	cx := &consumerCtx{Context: ctx, group: s.group}
	if h != nil {
		cx.settle = c // OnSettled
	}
	// Under WithoutCancel, not above it: withoutCancelCtx's Value method,
	// called by a context type of another package, allocates (it boxes
	// itself again); the context package's own lookup loop passes it
	// without.
	c.abortCtx, c.abort = context.WithCancel(context.WithoutCancel(cx))
	c.drainCtx, c.drain = context.WithCancel(c.abortCtx)
	c.recvCtx, c.stopRecv = context.WithCancel(c.drainCtx)
	return c
}

// run starts the consumer's goroutines. ctx ending stops it: a channel
// subscription at once, as Watermill subscribers do (its reader is gone:
// what it holds unacked is given back); Consume after a drain bounded by
// the close timeout (the handlers are ours to wait for).
func (c *consumer) run(ctx context.Context) {
	go c.receive()
	go c.acker()
	go func() {
		select {
		case <-ctx.Done():
			_ = c.end(false)
		case <-c.done:
		}
	}()
}

// receive takes batches from the driver and submits each message to the
// pool until recvCtx ends. What it holds when it ends is given back.
func (c *consumer) receive() {
	defer close(c.recvDone)
	bo := backoff.NewErrorLoop()
	for {
		batch, err := c.sub.ReceiveBatch(c.recvCtx, c.t.cfg.batch)
		if c.recvCtx.Err() != nil {
			c.giveBack(batch)
			return
		}
		if err != nil {
			if errors.Is(err, ErrClosed) {
				c.log.Error("subscription closed by its driver", "err", err)
				go func() { _ = c.stop(context.Background()) }()
				return
			}
			bo.Fail(c.log, "receive failed; retrying", err)
			if !backoff.Sleep(c.recvCtx, bo.Next()) {
				return
			}
			continue
		}
		bo.OK(c.log, "receive recovered")
		for i, dm := range batch {
			if !c.matches(dm.Key) {
				c.acks <- ackReq{id: dm.AckID}
				continue
			}
			if g, ok := dm.Metadata[MetaReplayGroup]; ok && g != c.s.group {
				c.acks <- ackReq{id: dm.AckID} // addressed to another group
				continue
			}
			if err := c.pool.Submit(c.recvCtx, dm.PartitionKey, dm); err != nil {
				c.giveBack(batch[i:])
				return
			}
			if len(batch) == 1 {
				// A lone message (a quiet stream): let the worker just
				// readied for it run now, on this processor, rather than
				// after this goroutine has issued the next receive (a
				// blocking read: a system call or two, tens of µs on a
				// loaded machine). This goroutine goes on as soon as a
				// processor is free.
				runtime.Gosched()
			}
		}
	}
}

// maxMatchCache bounds the routing keys whose match a consumer remembers.
const maxMatchCache = 1024

// matches reports whether key matches the consumer's pattern. The answers
// for the last keys seen are kept: a stream has few distinct routing keys,
// and a map lookup is cheaper than matching the pattern again.
func (c *consumer) matches(key string) bool {
	if m, ok := c.matched[key]; ok {
		return m
	}
	m := events.MatchPattern(c.pattern, key)
	if len(c.matched) >= maxMatchCache {
		clear(c.matched)
	}
	c.matched[key] = m
	return m
}

// giveBack queues nacks for msgs: the broker redelivers them.
func (c *consumer) giveBack(msgs []*driver.Message) {
	for _, dm := range msgs {
		c.acks <- ackReq{id: dm.AckID, nack: true}
	}
}

// deliver hands dm out until it is acked, redelivering it after each nack
// with backoff. It runs on a pool worker, so the next message of dm's key
// waits for it.
func (c *consumer) deliver(dm *driver.Message) {
	cfg := &c.t.cfg
	for attempt := 1; ; attempt++ {
		if c.drainCtx.Err() != nil {
			c.acks <- ackReq{id: dm.AckID, nack: true}
			return
		}
		if attempt > 1 {
			// The handler may have changed the last delivery.
			dm.Metadata = maps.Clone(dm.Metadata)
			dm.Payload = bytes.Clone(dm.Payload)
		}
		var ok bool
		if c.handler != nil {
			ok = c.handle(dm, attempt)
		} else {
			var abandoned bool
			ok, abandoned = c.send(dm, attempt)
			if abandoned {
				c.acks <- ackReq{id: dm.AckID, nack: true}
				return
			}
		}
		if ok {
			c.acks <- ackReq{id: dm.AckID}
			return
		}
		if !backoff.Sleep(c.drainCtx, backoff.Exponential(cfg.backoff, cfg.backoffMax, attempt)) {
			c.acks <- ackReq{id: dm.AckID, nack: true}
			return
		}
	}
}

// newMessage builds the Watermill message of dm with a context that ends
// when it is settled or the consumer aborts.
func (c *consumer) newMessage(dm *driver.Message) (*message.Message, context.CancelFunc) {
	md := dm.Metadata
	if md == nil {
		md = make(message.Metadata)
	}
	if c.handler != nil {
		// The handler returns before the message is settled: its ctx needs
		// no cancel of its own (two allocations fewer per message). The
		// core settles the driver message, never this one, so its Acked
		// and Nacked channels could never fire: it is built without them
		// (Watermill's Ack and Nack work on such a message) and without
		// the empty metadata map message.NewMessage makes — three
		// allocations fewer.
		msg := &message.Message{UUID: dm.UUID, Metadata: md, Payload: dm.Payload}
		msg.SetContext(withPosition(c.abortCtx, dm))
		return msg, func() {}
	}
	msg := message.NewMessage(dm.UUID, dm.Payload)
	msg.Metadata = md
	ctx, cancel := context.WithCancel(withPosition(c.abortCtx, dm))
	msg.SetContext(ctx)
	return msg, cancel
}

// withPosition returns ctx carrying dm's Position (PositionFromContext),
// or ctx itself when the driver gave none: no allocation then.
func withPosition(ctx context.Context, dm *driver.Message) context.Context {
	if dm.Position.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, positionKey{}, &dm.Position)
}

// send hands dm to the channel and waits for its ack or nack. abandoned
// is true when the consumer stopped first.
func (c *consumer) send(dm *driver.Message, attempt int) (acked, abandoned bool) {
	msg, cancel := c.newMessage(dm)
	defer cancel()
	if c.t.obs != nil {
		d := c.startDelivery(msg, dm, attempt)
		defer func() { d.endSend(acked, abandoned) }()
	}
	select {
	case c.out <- msg:
	case <-c.drainCtx.Done():
		return false, true
	}
	select {
	case <-msg.Acked():
		return true, false
	case <-msg.Nacked():
		return false, false
	case <-c.abortCtx.Done():
		// An ack that came just before the abort still counts (select
		// picks at random among ready cases): never give back what the
		// reader acked.
		select {
		case <-msg.Acked():
			return true, false
		default:
			return false, true
		}
	}
}

// handle runs the handler on dm and publishes what it produced; it
// reports whether dm is to be acked.
func (c *consumer) handle(dm *driver.Message, attempt int) bool {
	msg, cancel := c.newMessage(dm)
	defer cancel()
	if c.t.obs != nil {
		d := c.startDelivery(msg, dm, attempt)
		err := c.call(msg, dm)
		d.endHandle(err)
		return err == nil
	}
	return c.call(msg, dm) == nil
}

// call runs the handler on msg and publishes what it produced; nil means
// msg is to be acked.
func (c *consumer) call(msg *message.Message, dm *driver.Message) error {
	produced, err := c.handler(msg)
	if err != nil {
		c.log.Debug("handler failed; message will be redelivered", "uuid", dm.UUID, "key", dm.Key, "err", err)
		return err
	}
	if len(produced) > 0 {
		err := c.t.pub.PublishBatch(msg.Context(), produced)
		c.settled(msg, err == nil)
		if err != nil {
			c.log.Error("publishing the handler's messages failed; message will be redelivered", "uuid", dm.UUID, "err", err)
			return err
		}
	}
	return nil
}

type settleKey struct{}

// consumerCtx is the context a consumer derives every message's context
// from: it names the group (GroupFromContext) and, on the fast path, the
// consumer that settles its messages (OnSettled), in one allocation. It is
// shared by all the consumer's messages, so it answers nil at once for a
// key of a value that belongs to one message (msgctx.Key: the envelope,
// the failure record and the dedup key the middleware install): the
// lookup that finds none stops here instead of walking on through the
// caller's contexts.
type consumerCtx struct {
	context.Context
	group  any       // a string, boxed once (boxing it per lookup allocates)
	settle *consumer // nil: OnSettled registers nothing
}

func (x *consumerCtx) Value(key any) any {
	switch key.(type) {
	case msgctx.Key:
		return nil
	case groupKey:
		return x.group
	case settleKey:
		if x.settle == nil {
			return nil
		}
		return x.settle
	}
	return x.Context.Value(key)
}

func (x *consumerCtx) String() string {
	return fmt.Sprintf("%v.WithConsumer(%q)", x.Context, x.group.(string))
}

// OnSettled registers fn to run once the consumer that delivered msg to a
// handler (Subscriber.Consume, subscriber.Group) has settled it after the
// handler returned produced messages: acked is true when they were
// published and msg will be acked. It is how middleware that must wait for
// the outcome (dedup records a key only then) works on the fast path, whose
// messages have no Watermill Acked/Nacked channels. It returns false, and
// registers nothing, for a message not delivered that way (e.g. by a
// Watermill router: wait on msg.Acked() there).
func OnSettled(msg *message.Message, fn func(acked bool)) bool {
	c, ok := msg.Context().Value(settleKey{}).(*consumer)
	if !ok || fn == nil {
		return false
	}
	c.settleMu.Lock()
	if c.onSettled == nil {
		c.onSettled = make(map[*message.Message][]func(bool))
	}
	c.onSettled[msg] = append(c.onSettled[msg], fn)
	c.settleMu.Unlock()
	return true
}

// settled runs the OnSettled callbacks of msg.
func (c *consumer) settled(msg *message.Message, acked bool) {
	c.settleMu.Lock()
	fns := c.onSettled[msg]
	delete(c.onSettled, msg)
	c.settleMu.Unlock()
	for _, fn := range fns {
		fn(acked)
	}
}

// acker sends acks and nacks in batches: it waits for one, takes whatever
// else is queued (up to the batch size), and sends them in one call each,
// bounded by ackFlushTimeout.
func (c *consumer) acker() {
	defer close(c.ackDone)
	max := c.t.cfg.batch
	acks := make([]driver.AckID, 0, max)
	nacks := make([]driver.AckID, 0, max)
	bo := backoff.NewErrorLoop()
	dl := newDeadline(ackFlushTimeout)
	defer dl.stop()
	for req := range c.acks {
		acks, nacks = acks[:0], nacks[:0]
		add := func(r ackReq) {
			if r.nack {
				nacks = append(nacks, r.id)
			} else {
				acks = append(acks, r.id)
			}
		}
		add(req)
	more:
		for len(acks)+len(nacks) < max {
			select {
			case r, ok := <-c.acks:
				if !ok {
					break more
				}
				add(r)
			default:
				break more
			}
		}
		ctx := dl.start()
		var err error
		if len(acks) > 0 {
			err = c.sub.SendAcks(ctx, acks)
		}
		if len(nacks) > 0 {
			err = errors.Join(err, c.sub.SendNacks(ctx, nacks))
		}
		dl.done()
		if err != nil {
			// The broker redelivers what was not acked: at least once.
			bo.Fail(c.log, "sending acks failed; the broker will redeliver those messages", err)
		} else {
			bo.OK(c.log, "sending acks recovered")
		}
	}
}

// deadline is a context that ends d after each start, reused from one
// start to the next: the acker wakes for every ack of a quiet stream, and
// context.WithTimeout there would cost three allocations and a new timer
// each time. A timer that fired cancelled its context for good: the next
// start makes a new one.
type deadline struct {
	d      time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

func newDeadline(d time.Duration) *deadline {
	dl := &deadline{d: d}
	dl.renew()
	return dl
}

// renew makes a new context and its (stopped) timer.
func (dl *deadline) renew() {
	dl.ctx, dl.cancel = context.WithCancel(context.Background())
	dl.timer = time.AfterFunc(time.Hour, dl.cancel)
	dl.timer.Stop()
}

// start returns the context, ending d from now, for one call.
func (dl *deadline) start() context.Context {
	dl.timer.Reset(dl.d)
	return dl.ctx
}

// done ends the call that start began.
func (dl *deadline) done() {
	if !dl.timer.Stop() {
		// Fired (or firing): that context is cancelled.
		dl.cancel()
		dl.renew()
	}
}

func (dl *deadline) stop() {
	dl.timer.Stop()
	dl.cancel()
}

// end stops the consumer because its reader went away or is done: a
// Consume call, or a channel subscription whose Subscriber is closed
// (drain), after a drain bounded by the close timeout; a channel
// subscription whose Subscribe ctx ended at once (its reader is gone).
// What is still out then is given back; for a channel subscription that is
// not an error. end returns the driver's close error.
func (c *consumer) end(drain bool) error {
	timeout := c.t.cfg.closeTimeout
	if c.handler == nil && !drain {
		timeout = 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if c.handler == nil {
		// A Watermill subscriber's Close returns nil here; Consume's wait
		// reports a drain cut short.
		c.quiet.Store(true)
	}
	_ = c.stop(ctx)
	<-c.done
	if c.aborted.Load() {
		c.log.Warn("subscription stopped with messages still out: given back to the broker")
	}
	return c.closeErr
}

// stop stops the consumer, draining until ctx ends; it returns when every
// goroutine of the consumer has ended. Later calls wait for the first.
func (c *consumer) stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		defer close(c.done)
		defer c.s.removeConsumer(c)
		c.stopRecv()
		<-c.recvDone
		c.drain()
		if err := c.pool.Wait(ctx); err != nil {
			c.aborted.Store(true)
			c.abort()
			_ = c.pool.Wait(context.Background()) // every worker ends once abortCtx is done
			if !c.quiet.Load() {
				c.stopErr = fmt.Errorf("%s: group %s pattern %s: messages still in flight were given back to the broker: %w",
					c.t.caps.Name, c.s.group, c.pattern, ctx.Err())
			}
		}
		close(c.acks)
		<-c.ackDone
		c.abort()
		cctx, cancel := context.WithTimeout(context.Background(), ackFlushTimeout)
		defer cancel()
		if err := c.sub.Close(cctx); err != nil {
			c.closeErr = fmt.Errorf("%s: close subscription: %w", c.t.caps.Name, err)
			c.stopErr = errors.Join(c.stopErr, c.closeErr)
		}
		// Last: a reader that sees the channel closed may subscribe again
		// at once, and the broker-side subscription is released by then.
		if c.out != nil {
			close(c.out)
		}
	})
	select {
	case <-c.done:
		return c.stopErr
	case <-ctx.Done():
		return fmt.Errorf("%s: stop: %w", c.t.caps.Name, ctx.Err())
	}
}
