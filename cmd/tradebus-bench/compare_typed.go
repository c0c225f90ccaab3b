package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// typedConsumer is one way of running a typed handler on a transport's
// subscriber. Each one is a row of every transport's table: to measure
// another typed consume path (e.g. a dispatcher in package subscriber), add
// an entry to typedConsumers.
type typedConsumer struct {
	name  string
	start func(ctx context.Context, tr transport.Transport, sub message.Subscriber, group string,
		h *hook, fn subscriber.Func[events.Trade]) (stop func() error, err error)
}

var typedConsumers = []typedConsumer{
	{"tradebus typed (subscriber.Handle, router)", consumeHandle(false)},
	{"tradebus typed + middleware.Default", consumeHandle(true)},
	{"tradebus typed fast path (subscriber.Group)", consumeGroup(false)},
	{"tradebus typed fast path + middleware.Default", consumeGroup(true)},
}

// consumeGroup runs fn on the transport's fast path (subscriber.Group: no
// router, no goroutine per message), optionally behind middleware.Default.
func consumeGroup(withDefault bool) func(ctx context.Context, tr transport.Transport, sub message.Subscriber,
	group string, h *hook, fn subscriber.Func[events.Trade]) (func() error, error) {
	return func(ctx context.Context, tr transport.Transport, sub message.Subscriber,
		group string, h *hook, fn subscriber.Func[events.Trade]) (func() error, error) {
		var mws []message.HandlerMiddleware
		if withDefault {
			stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(group))
			if err != nil {
				return nil, err
			}
			mws = stack.Middlewares()
		}
		g, err := subscriber.NewGroup(sub, mws...)
		if err != nil {
			return nil, err
		}
		if err := subscriber.On(g, pattern, fn); err != nil {
			return nil, err
		}
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		errc := make(chan error, 1)
		go func() {
			err := g.Run(runCtx)
			if err != nil {
				h.fail(err)
			}
			errc <- err
		}()
		select {
		case <-g.Running():
		case err := <-errc:
			cancel()
			return nil, err
		}
		var once sync.Once
		var rerr error
		return func() error {
			once.Do(func() {
				cancel()
				rerr = <-errc
			})
			return rerr
		}, nil
	}
}

// consumeHandle registers fn with subscriber.Handle on a Watermill router,
// optionally behind the middleware.Default stack (poison topic on the same
// transport, in-memory dedup).
func consumeHandle(withDefault bool) func(ctx context.Context, tr transport.Transport, sub message.Subscriber,
	group string, h *hook, fn subscriber.Func[events.Trade]) (func() error, error) {
	return func(ctx context.Context, tr transport.Transport, sub message.Subscriber,
		group string, h *hook, fn subscriber.Func[events.Trade]) (func() error, error) {
		return startRouter(ctx, h, func(r *message.Router) error {
			if withDefault {
				stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(group))
				if err != nil {
					return err
				}
				r.AddMiddleware(stack.Middlewares()...)
			}
			_, err := subscriber.Handle(r, sub, pattern, fn)
			return err
		})
	}
}

// typedRows are the tradebus rows of a transport: publisher.Publish with
// batches of 256 events, consumed by each of typedConsumers.
func typedRows() []rowSpec {
	var rows []rowSpec
	for _, c := range typedConsumers {
		rows = append(rows, rowSpec{name: c.name, kind: kindTyped, open: func(ctx context.Context, e *env, ns string) (row, error) {
			return openTyped(ctx, e, ns, c)
		}})
	}
	return rows
}

type typedRow struct {
	e        *env
	tr       transport.Transport
	pub      *publisher.Publisher
	async    *publisher.Async // the latency phase: a gateway does not wait per event
	sub      message.Subscriber
	group    string
	consumer typedConsumer
	batch    []events.Event
	stop     func() error
	cl       closer
}

func openTyped(ctx context.Context, e *env, ns string, c typedConsumer) (_ row, err error) {
	base := e.typedURL()
	u, err := brokerns.Apply(base, ns)
	if err != nil {
		return nil, err
	}
	t := &typedRow{e: e, group: ns, consumer: c}
	defer func() {
		if err != nil {
			_ = t.close(context.WithoutCancel(ctx))
		}
	}()
	// Registered first, so it runs last: whatever the run created under ns.
	t.cl.add(func(ctx context.Context) error {
		return e.removeNamespace(ctx, base, ns, []brokerns.Subscription{{Group: ns, Pattern: pattern}})
	})
	tr, err := transport.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	t.cl.add(tr.Close)
	t.tr = tr
	if t.pub, err = publisher.New(tr.Publisher()); err != nil {
		return nil, err
	}
	if t.async, err = t.pub.NewAsync(); err != nil {
		return nil, err
	}
	t.cl.add(t.async.Close)
	if t.sub, err = tr.Subscriber(ns); err != nil {
		return nil, err
	}
	// Create the subscription before publishing, so the backlog is kept for
	// it (every tradebus transport implements SubscribeInitializer).
	if si, ok := t.sub.(message.SubscribeInitializer); ok {
		if err := si.SubscribeInitialize(pattern); err != nil {
			return nil, fmt.Errorf("subscribe initialize: %w", err)
		}
	}
	for i := range batchSize {
		t.batch = append(t.batch, e.fx.trades[i%len(e.fx.trades)])
	}
	return t, nil
}

func (t *typedRow) publishN(ctx context.Context, n int) error {
	for sent := 0; sent < n; {
		k := min(batchSize, n-sent)
		if err := t.pub.Publish(ctx, t.batch[:k]...); err != nil {
			return err
		}
		sent += k
	}
	return nil
}

// publishSeq queues one event on the asynchronous publisher, as a gateway
// publishing at a steady rate would (the raw rows keep confirms in flight
// too); flush waits for every confirmation.
func (t *typedRow) publishSeq(ctx context.Context, seq int) error {
	return t.async.Publish(ctx, t.e.fx.seqTrade(seq))
}

func (t *typedRow) flush(ctx context.Context) error { return t.async.Flush(ctx) }

func (t *typedRow) start(ctx context.Context, h *hook) error {
	stop, err := t.consumer.start(ctx, t.tr, t.sub, t.group, h, func(_ context.Context, tr events.Trade) error {
		seq := -1
		if h.wantSeq() {
			seq = parseSeq(tr.TradeID)
		}
		h.hit(seq)
		return nil
	})
	if err != nil {
		return err
	}
	t.stop = stop
	t.cl.add(func(context.Context) error { return stop() })
	return nil
}

func (t *typedRow) close(ctx context.Context) error { return t.cl.close(ctx) }

// typedURL is the transport URL of e without a namespace.
func (e *env) typedURL() string {
	switch e.transport {
	case "mem":
		// The backlog of a run must fit the subscription buffer (the
		// default, 1024, would block the publisher with nobody consuming).
		return fmt.Sprintf("mem://?buffer=%d", e.cfg.N+e.cfg.LatN+batchSize)
	case "amqp":
		return e.amqpURL
	case "kafka":
		return "kafka://" + strings.Join(e.kafkaBrokers, ",")
	case "redis":
		return e.redisURL
	case "nats":
		return e.natsURL
	}
	return ""
}
