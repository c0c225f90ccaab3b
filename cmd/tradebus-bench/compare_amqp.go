package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp091 "github.com/rabbitmq/amqp091-go"
)

// quorumArgs: every RabbitMQ row uses a durable quorum queue, like the
// tradebus transport, so durability is the same in every row.
var quorumArgs = amqp091.Table{"x-queue-type": "quorum"}

// rawAMQPRow is amqp091-go at its best from one goroutine: publisher
// confirms with a sliding window of 256 unconfirmed publishes
// (DeferredConfirm), and a prefetch-512 consumer (the driver's default
// window; 1.39x the rate of prefetch 128 in BenchmarkConsume) acking with
// multiple=true every 64 deliveries or when no delivery is waiting (it
// acked every delivery before: len of amqp091-go's unbuffered deliveries
// channel is always 0).
type rawAMQPRow struct {
	e        *env
	conn     *amqp091.Connection
	pubCh    *amqp091.Channel
	exchange string
	queue    string
	window   []*amqp091.DeferredConfirmation
	headers  []amqp091.Table
	cl       closer
}

func openRawAMQP(ctx context.Context, e *env, ns string) (_ row, err error) {
	r := &rawAMQPRow{e: e, exchange: ns, queue: ns + ".q"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	e.recordAMQP([]string{r.queue}, []string{r.exchange})
	conn, err := amqp091.Dial(e.amqpURL)
	if err != nil {
		return nil, err
	}
	r.conn = conn
	r.cl.add(func(context.Context) error { return conn.Close() })
	r.cl.add(func(context.Context) error { return deleteAMQP(conn, []string{r.queue}, []string{r.exchange}) })
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := declareAMQP(ch, r.exchange, r.queue); err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		return nil, err
	}
	r.pubCh = ch
	for _, md := range e.fx.metadata {
		t := amqp091.Table{}
		for k, v := range md {
			t[k] = v
		}
		r.headers = append(r.headers, t)
	}
	return r, nil
}

func declareAMQP(ch *amqp091.Channel, exchange, queue string) error {
	if err := ch.ExchangeDeclare(exchange, amqp091.ExchangeTopic, true, false, false, false, nil); err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, quorumArgs); err != nil {
		return err
	}
	return ch.QueueBind(queue, pattern, exchange, false, nil)
}

// deleteAMQP deletes queues and exchanges on a channel of its own.
func deleteAMQP(conn *amqp091.Connection, queues, exchanges []string) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	var errs []error
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			errs = append(errs, fmt.Errorf("delete queue %s: %w", q, err))
		}
	}
	for _, x := range exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			errs = append(errs, fmt.Errorf("delete exchange %s: %w", x, err))
		}
	}
	return errors.Join(errs...)
}

func (r *rawAMQPRow) send(ctx context.Context, i int, headers amqp091.Table) error {
	if len(r.window) == batchSize {
		if err := waitConfirm(ctx, r.window[0]); err != nil {
			return err
		}
		r.window = r.window[1:]
	}
	k := i % len(r.e.fx.payloads)
	dc, err := r.pubCh.PublishWithDeferredConfirmWithContext(ctx, r.exchange, r.e.fx.keys[k], false, false, amqp091.Publishing{
		Headers:      headers,
		ContentType:  "application/json",
		DeliveryMode: amqp091.Persistent,
		MessageId:    r.e.fx.metadata[k]["id"],
		Body:         r.e.fx.payloads[k],
	})
	if err != nil {
		return err
	}
	r.window = append(r.window, dc)
	return nil
}

func waitConfirm(ctx context.Context, dc *amqp091.DeferredConfirmation) error {
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("publish nacked by the broker")
	}
	return nil
}

func (r *rawAMQPRow) publishN(ctx context.Context, n int) error {
	for i := range n {
		if err := r.send(ctx, i, r.headers[i%len(r.headers)]); err != nil {
			return err
		}
	}
	return r.flush(ctx)
}

func (r *rawAMQPRow) publishSeq(ctx context.Context, seq int) error {
	src := r.headers[seq%len(r.headers)]
	t := make(amqp091.Table, len(src)+1)
	for k, v := range src {
		t[k] = v
	}
	t[seqHeader] = seqString(seq)
	return r.send(ctx, seq, t)
}

func (r *rawAMQPRow) flush(ctx context.Context) error {
	for _, dc := range r.window {
		if err := waitConfirm(ctx, dc); err != nil {
			return err
		}
	}
	r.window = r.window[:0]
	return nil
}

func (r *rawAMQPRow) start(_ context.Context, h *hook) error {
	ch, err := r.conn.Channel()
	if err != nil {
		return err
	}
	r.cl.add(func(context.Context) error { return ignoreClosed(ch.Close()) })
	if err := ch.Qos(512, 0, false); err != nil {
		return err
	}
	const tag = "bench"
	deliveries, err := ch.Consume(r.queue, tag, false, false, false, false, nil)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hit := func(d *amqp091.Delivery) {
			seq := -1
			if h.wantSeq() {
				if s, ok := d.Headers[seqHeader].(string); ok {
					seq = parseSeq(s)
				}
			}
			h.hit(seq)
		}
		// amqp091-go's deliveries channel is unbuffered (len is always
		// 0): take what is waiting without blocking, and ack the last one
		// (multiple) once none waits or 64 are pending.
		for d := range deliveries {
			hit(&d)
			last, pending, open := d, 1, true
		drain:
			for pending < 64 {
				select {
				case d, ok := <-deliveries:
					if !ok {
						open = false
						break drain
					}
					hit(&d)
					last = d
					pending++
				default:
					break drain
				}
			}
			if err := last.Ack(true); err != nil {
				h.fail(err)
				return
			}
			if !open {
				return
			}
		}
	}()
	r.cl.add(func(context.Context) error {
		err := ch.Cancel(tag, false)
		<-done
		return ignoreClosed(err)
	})
	return nil
}

func (r *rawAMQPRow) close(ctx context.Context) error { return r.cl.close(ctx) }

func ignoreClosed(err error) error {
	if errors.Is(err, amqp091.ErrClosed) {
		return nil
	}
	return err
}

// adapterAMQPRow is watermill-amqp v3: a durable topic config (exchange
// and quorum queue of the row's own, bound with the pattern), publisher
// confirms, prefetch 1024 (its presets use 1; 1024 consumed 1.1-1.5x as
// fast as 128 in BenchmarkConsume: it holds one message at a time and acks
// each alone, so the window only keeps the wire busy), a router handler
// acking each message.
type adapterAMQPRow struct {
	e        *env
	pub      *wamqp.Publisher
	sub      *wamqp.Subscriber
	exchange string
	queue    string
	cl       closer
}

func openAdapterAMQP(ctx context.Context, e *env, ns string) (_ row, err error) {
	r := &adapterAMQPRow{e: e, exchange: ns, queue: ns + ".q"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	e.recordAMQP([]string{r.queue}, []string{r.exchange})
	r.cl.add(func(context.Context) error {
		conn, err := amqp091.Dial(e.amqpURL)
		if err != nil {
			return err
		}
		defer conn.Close()
		return deleteAMQP(conn, []string{r.queue}, []string{r.exchange})
	})
	cfg := wamqp.NewDurableTopicConfig(e.amqpURL, r.exchange, r.queue)
	cfg.Queue.Arguments = quorumArgs
	cfg.Publish.ConfirmDelivery = true
	cfg.Consume.Qos.PrefetchCount = 1024
	if r.pub, err = wamqp.NewPublisher(cfg, watermill.NopLogger{}); err != nil {
		return nil, err
	}
	r.cl.add(func(context.Context) error { return r.pub.Close() })
	if r.sub, err = wamqp.NewSubscriber(cfg, watermill.NopLogger{}); err != nil {
		return nil, err
	}
	r.cl.add(func(context.Context) error { return r.sub.Close() })
	if err := r.sub.SubscribeInitialize(pattern); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *adapterAMQPRow) msg(i int) (string, *message.Message) {
	k := i % len(r.e.fx.payloads)
	m := message.NewMessage(watermill.NewUUID(), r.e.fx.payloads[k])
	m.Metadata = copyMD(r.e.fx.metadata[k])
	return r.e.fx.keys[k], m
}

func (r *adapterAMQPRow) publishN(_ context.Context, n int) error {
	for i := range n {
		if err := r.pub.Publish(r.msg(i)); err != nil {
			return err
		}
	}
	return nil
}

func (r *adapterAMQPRow) publishSeq(_ context.Context, seq int) error {
	key, m := r.msg(seq)
	m.Metadata.Set(seqHeader, seqString(seq))
	return r.pub.Publish(key, m)
}

func (r *adapterAMQPRow) flush(context.Context) error { return nil }

func (r *adapterAMQPRow) start(ctx context.Context, h *hook) error {
	stop, err := startRouter(ctx, h, func(rt *message.Router) error {
		rt.AddConsumerHandler("bench", pattern, r.sub, adapterHandler(h))
		return nil
	})
	if err != nil {
		return err
	}
	r.cl.add(func(context.Context) error { return stop() })
	return nil
}

func (r *adapterAMQPRow) close(ctx context.Context) error { return r.cl.close(ctx) }
