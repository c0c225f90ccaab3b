package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/internal/brokerns"
)

// Stream names are ns + "_…", so brokerns.Remove deletes them (and their
// consumers with them).
func removeNATS(ctx context.Context, e *env, ns string) error {
	return brokerns.Remove(ctx, e.natsURL, ns, nil)
}

// rawNATSRow is nats.go's jetstream package at its best from one
// goroutine: PublishAsync with at most 256 publishes awaiting their ack,
// and a durable pull consumer's Consume callback acking each message.
type rawNATSRow struct {
	e       *env
	nc      *natsgo.Conn
	js      jetstream.JetStream
	stream  string
	subject string // prefix of the subjects: subject + "." + routing key
	headers []natsgo.Header
	perr    atomic.Pointer[error]
	cl      closer
}

func openRawNATS(ctx context.Context, e *env, ns string) (_ row, err error) {
	r := &rawNATSRow{e: e, stream: ns + "_trade", subject: ns + ".trade"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	r.cl.add(func(ctx context.Context) error { return removeNATS(ctx, e, ns) })
	if r.nc, err = natsgo.Connect(e.natsURL); err != nil {
		return nil, err
	}
	r.cl.add(func(context.Context) error { r.nc.Close(); return nil })
	if r.js, err = jetstream.New(r.nc,
		jetstream.WithPublishAsyncMaxPending(batchSize),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *natsgo.Msg, err error) {
			r.perr.CompareAndSwap(nil, &err)
		}),
	); err != nil {
		return nil, err
	}
	if _, err := r.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: r.stream, Subjects: []string{r.subject + ".>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		return nil, err
	}
	if _, err := r.js.CreateOrUpdateConsumer(ctx, r.stream, jetstream.ConsumerConfig{
		Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
	}); err != nil {
		return nil, err
	}
	for _, md := range e.fx.metadata {
		h := natsgo.Header{}
		for k, v := range md {
			h.Set(k, v)
		}
		r.headers = append(r.headers, h)
	}
	return r, nil
}

func (r *rawNATSRow) send(i int, h natsgo.Header) error {
	k := i % len(r.e.fx.payloads)
	_, err := r.js.PublishMsgAsync(&natsgo.Msg{
		Subject: r.subject + "." + r.e.fx.keys[k],
		Data:    r.e.fx.payloads[k],
		Header:  h,
	}, jetstream.WithStallWait(time.Minute)) // at 256 pending, wait (as the AMQP row does) rather than fail after 200ms
	return err
}

func (r *rawNATSRow) publishN(ctx context.Context, n int) error {
	for i := range n {
		if err := r.send(i, r.headers[i%len(r.headers)]); err != nil {
			return err
		}
	}
	return r.flush(ctx)
}

func (r *rawNATSRow) publishSeq(_ context.Context, seq int) error {
	src := r.headers[seq%len(r.headers)]
	h := make(natsgo.Header, len(src)+1)
	for k, v := range src {
		h[k] = v
	}
	h.Set(seqHeader, seqString(seq))
	return r.send(seq, h)
}

func (r *rawNATSRow) flush(ctx context.Context) error {
	select {
	case <-r.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return errors.New("publish acks: timed out")
	}
	if p := r.perr.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *rawNATSRow) start(ctx context.Context, h *hook) error {
	cons, err := r.js.Consumer(ctx, r.stream, "c")
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		seq := -1
		if h.wantSeq() {
			seq = parseSeq(m.Headers().Get(seqHeader))
		}
		h.hit(seq)
		if err := m.Ack(); err != nil {
			h.fail(err)
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrConsumerDeleted) && !errors.Is(err, natsgo.ErrConnectionClosed) {
			h.fail(fmt.Errorf("consume: %w", err))
		}
	}))
	if err != nil {
		return err
	}
	r.cl.add(func(ctx context.Context) error {
		cc.Stop()
		select {
		case <-cc.Closed():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	return nil
}

func (r *rawNATSRow) close(ctx context.Context) error { return r.cl.close(ctx) }

// openAdapterNATS opens watermill-nats v2 (package nats, JetStream enabled,
// auto-provisioned stream named after the topic, a durable consumer, the
// NATS marshaler carrying metadata as headers): its publisher waits for
// each publish ack; its subscriber acks each message.
func openAdapterNATS(ctx context.Context, e *env, ns string) (_ row, err error) {
	r := &adapterRow{e: e, topic: ns + "_wm"}
	defer func() {
		if err != nil {
			_ = r.close(context.WithoutCancel(ctx))
		}
	}()
	r.cl.add(func(ctx context.Context) error { return removeNATS(ctx, e, ns) })
	js := wnats.JetStreamConfig{AutoProvision: true, DurablePrefix: "wd",
		SubscribeOptions: []natsgo.SubOpt{natsgo.DeliverAll(), natsgo.AckExplicit()}}
	pub, err := wnats.NewPublisher(wnats.PublisherConfig{
		URL: e.natsURL, Marshaler: &wnats.NATSMarshaler{}, JetStream: js,
	}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	r.pub = pub
	r.cl.add(func(context.Context) error { return pub.Close() })
	sub, err := wnats.NewSubscriber(wnats.SubscriberConfig{
		URL: e.natsURL, Unmarshaler: &wnats.NATSMarshaler{}, JetStream: js,
		CloseTimeout: 30 * time.Second, AckWaitTimeout: 30 * time.Second,
	}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	r.sub = sub
	r.cl.add(func(context.Context) error { return sub.Close() })
	if err := sub.SubscribeInitialize(r.topic); err != nil {
		return nil, err
	}
	return r, nil
}
