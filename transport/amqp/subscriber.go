package amqp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/keyed"
)

// Subscriber consumes as one consumer group. Get it from
// Transport.Subscriber. Each Subscribe call consumes the group's queue for
// that pattern on its own AMQP channel. It is safe for concurrent use. The
// zero value is not usable.
type Subscriber struct {
	t     *Transport
	group string

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	closed bool
}

var (
	_ message.Subscriber           = (*Subscriber)(nil)
	_ message.SubscribeInitializer = (*Subscriber)(nil)
)

// Group returns the consumer group.
func (s *Subscriber) Group() string { return s.group }

// SubscribeInitialize declares the group's queue for pattern and binds it,
// without consuming, so that messages published from now on are kept for
// the group.
func (s *Subscriber) SubscribeInitialize(pattern string) error {
	queue, err := s.t.checkSubscription(s.group, pattern)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.dialTimeout)
	defer cancel()
	conn, err := s.t.subConn.tryConnect(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("%w: open channel: %w", ErrConnection, err)
	}
	defer func() { _ = ch.Close() }()
	return s.t.declareSubscription(ch, queue, pattern)
}

// Subscribe consumes the group's queue for pattern (declaring and binding
// it first): pattern is a subscription pattern such as "trade.*.BTCUSDT" or
// "trade.#". Messages arrive on the returned channel; each must be acked or
// nacked. Ack removes it from the queue; Nack returns it to the queue for
// redelivery (see the package documentation on the delivery limit).
//
// Up to WithConcurrency messages are outstanding at once, never two with
// the same partition key. The channel is closed after ctx is done or the
// Subscriber (or Transport) is closed, once in-flight messages were
// acked/nacked or the drain timeout passed. After a lost connection the
// subscription reconnects and resumes by itself.
//
// The first connection attempt happens here and its failure is returned.
func (s *Subscriber) Subscribe(ctx context.Context, pattern string) (<-chan *message.Message, error) {
	queue, err := s.t.checkSubscription(s.group, pattern)
	if err != nil {
		return nil, err
	}
	sub := newSubscription(s, ctx, queue, pattern)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()

	sess, err := sub.open(ctx, false)
	if err != nil {
		s.forget(sub)
		sub.hardCancel()
		sub.stopCancel()
		close(sub.finished) // a concurrent close may be waiting for it
		return nil, err
	}
	stopAfter := context.AfterFunc(ctx, func() {
		drain, cancel := context.WithTimeout(context.Background(), s.t.cfg.drainTimeout)
		sub.stop(drain, cancel)
	})
	go func() {
		sub.run(sess)
		stopAfter()
		s.forget(sub)
	}()
	return sub.out, nil
}

func (s *Subscriber) forget(sub *subscription) {
	s.mu.Lock()
	delete(s.subs, sub)
	s.mu.Unlock()
}

// Close stops every subscription of this Subscriber: no new messages are
// handed out, messages already handed out get WithDrainTimeout to be acked
// or nacked, then the output channels are closed. It is idempotent.
func (s *Subscriber) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.drainTimeout)
	defer cancel()
	s.close(ctx)
	s.t.forgetSubscriber(s)
	return nil
}

// close stops all subscriptions, draining until ctx is done.
func (s *Subscriber) close(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	subs := make([]*subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.stop(ctx, func() {})
	}
	for _, sub := range subs {
		select {
		case <-sub.finished:
		case <-ctx.Done():
			sub.hardCancel()
			<-sub.finished
		}
	}
}

// subscription is one Subscribe call: a goroutine reading deliveries of one
// queue, across reconnects, and handing them out through a keyed pool.
type subscription struct {
	t       *Transport
	queue   string
	pattern string
	out     chan *message.Message
	pool    *keyed.Pool
	log     *slog.Logger

	// stopCtx ends when the subscription is asked to stop: no more
	// deliveries are read or handed out.
	stopCtx    context.Context
	stopCancel context.CancelFunc
	stopMu     sync.Mutex
	stopped    bool
	drain      context.Context // set by the first stop
	drainDone  context.CancelFunc

	// hardCtx ends when in-flight messages are abandoned.
	hardCtx    context.Context
	hardCancel context.CancelFunc
	// msgParent carries the Subscribe ctx's values but never ends, so that
	// a message context costs no registration with a cancelable parent;
	// handle cancels each message context itself (after the ack or nack,
	// or when the message is abandoned).
	msgParent context.Context

	finished chan struct{}
}

func newSubscription(s *Subscriber, ctx context.Context, queue, pattern string) *subscription {
	sub := &subscription{
		t:        s.t,
		queue:    queue,
		pattern:  pattern,
		out:      make(chan *message.Message),
		pool:     keyed.New(s.t.cfg.concurrency),
		log:      s.t.cfg.logger.With(slog.String("queue", queue)),
		finished: make(chan struct{}),
	}
	sub.stopCtx, sub.stopCancel = context.WithCancel(context.Background())
	sub.msgParent = context.WithoutCancel(ctx)
	sub.hardCtx, sub.hardCancel = context.WithCancel(sub.msgParent)
	return sub
}

// stop asks the subscription to stop, draining in-flight messages until
// drain is done; done is called when the subscription finished. Only the
// first call has an effect (later ones call their done at once).
func (sub *subscription) stop(drain context.Context, done context.CancelFunc) {
	sub.stopMu.Lock()
	first := !sub.stopped
	if first {
		sub.stopped = true
		sub.drain, sub.drainDone = drain, done
	}
	sub.stopMu.Unlock()
	if !first {
		done()
		return
	}
	sub.stopCancel()
}

// drainCtx returns the drain context and its cancel function of the first
// stop.
func (sub *subscription) drainCtx() (context.Context, context.CancelFunc) {
	sub.stopMu.Lock()
	defer sub.stopMu.Unlock()
	if sub.drain == nil {
		// Unreachable: run only ends after stop. Drain nothing.
		return sub.stopCtx, func() {}
	}
	return sub.drain, sub.drainDone
}

// session is one AMQP channel consuming the queue.
type session struct {
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
	// ctx ends when the channel died or the subscription stops; messages
	// of the session not yet handed out are then dropped (the broker
	// redelivers them).
	ctx    context.Context
	cancel context.CancelFunc
}

// open connects (retrying until ctx ends if retry, else once), declares
// the topology and starts consuming.
func (sub *subscription) open(ctx context.Context, retry bool) (*session, error) {
	var (
		conn *amqp.Connection
		err  error
	)
	if retry {
		conn, err = sub.t.subConn.connect(ctx)
	} else {
		conn, err = sub.t.subConn.tryConnect(ctx)
	}
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("%w: open channel: %w", ErrConnection, err)
	}
	fail := func(err error) (*session, error) {
		_ = ch.Close()
		return nil, err
	}
	if err := ch.Qos(sub.t.cfg.prefetch, 0, false); err != nil {
		return fail(fmt.Errorf("amqp: set prefetch: %w", err))
	}
	if err := sub.t.declareSubscription(ch, sub.queue, sub.pattern); err != nil {
		return fail(err)
	}
	deliveries, err := ch.Consume(sub.queue, "", false, false, false, false, nil)
	if err != nil {
		return fail(fmt.Errorf("amqp: consume %q: %w", sub.queue, err))
	}
	sctx, cancel := context.WithCancel(sub.stopCtx)
	return &session{ch: ch, deliveries: deliveries, ctx: sctx, cancel: cancel}, nil
}

func (sub *subscription) run(sess *session) {
	defer close(sub.finished)
	for {
		sub.consume(sess)
		sess.cancel()
		if sub.stopCtx.Err() != nil {
			break
		}
		sub.log.Warn("amqp: consumer channel closed; resubscribing")
		sess = sub.reopen()
		if sess == nil {
			break
		}
		sub.log.Info("amqp: consuming again")
	}

	// Drain: wait for messages already handed out, within the deadline.
	drain, drainDone := sub.drainCtx()
	defer drainDone()
	waitCtx, cancel := context.WithCancel(sub.hardCtx)
	stopAF := context.AfterFunc(drain, cancel)
	if err := sub.pool.Wait(waitCtx); err != nil {
		sub.log.Warn("amqp: drain deadline passed; unacked messages will be redelivered")
	}
	stopAF()
	cancel()
	sub.hardCancel()
	_ = sub.pool.Wait(context.Background())
	if sess != nil {
		// Unacked deliveries return to the queue.
		_ = sess.ch.Close()
	}
	close(sub.out)
}

// reopen re-establishes consumption with backoff until it succeeds (the
// new session) or the subscription stops (nil).
func (sub *subscription) reopen() *session {
	backoff := 50 * time.Millisecond
	for {
		sess, err := sub.open(sub.stopCtx, true)
		if err == nil {
			return sess
		}
		if sub.stopCtx.Err() != nil {
			return nil
		}
		sub.log.Warn("amqp: resubscribe failed", slog.Any("error", err))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-sub.stopCtx.Done():
			t.Stop()
			return nil
		}
		backoff = min(2*backoff, sub.t.cfg.maxBackoff)
	}
}

// consume reads deliveries until the channel dies or the subscription
// stops, submitting each to the keyed pool under its partition key.
func (sub *subscription) consume(sess *session) {
	for {
		select {
		case d, ok := <-sess.deliveries:
			if !ok {
				return
			}
			key := headerString(d.Headers[events.MetaPartitionKey])
			if err := sub.pool.Submit(sub.stopCtx, key, func() { sub.handle(sess, &d) }); err != nil {
				// Stopping: d stays unacked and returns to the queue.
				return
			}
		case <-sub.stopCtx.Done():
			return
		}
	}
}

// handle runs on a pool goroutine: hand the message out, wait for the
// application's verdict, settle the delivery at the broker.
func (sub *subscription) handle(sess *session, d *amqp.Delivery) {
	if sess.ctx.Err() != nil {
		return
	}
	msg := toMessage(d)
	ctx, cancel := context.WithCancel(sub.msgParent)
	defer cancel()
	msg.SetContext(ctx)
	select {
	case sub.out <- msg:
	case <-sess.ctx.Done():
		return
	}
	select {
	case <-msg.Acked():
		if err := d.Ack(false); err != nil {
			sub.log.Debug("amqp: ack failed; the message will be redelivered",
				slog.String("message_uuid", msg.UUID), slog.Any("error", err))
		}
	case <-msg.Nacked():
		if err := d.Nack(false, true); err != nil {
			sub.log.Debug("amqp: nack failed; the message will be redelivered",
				slog.String("message_uuid", msg.UUID), slog.Any("error", err))
		}
	case <-sub.hardCtx.Done():
	}
}
