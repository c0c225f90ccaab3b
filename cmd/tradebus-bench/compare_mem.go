package main

import (
	"context"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// goChannelRow is Watermill's GoChannel in its default configuration with
// a message.Router: on mem it is both the raw baseline and the Watermill
// one. GoChannel keeps nothing for absent subscribers, so the row
// subscribes before publishing and hands that channel to the router
// (preSubscribed); the backlog waits in GoChannel's per-message goroutines.
type goChannelRow struct {
	e      *env
	gc     *gochannel.GoChannel
	ch     <-chan *message.Message
	cancel context.CancelFunc
	cl     closer
}

func openGoChannel(ctx context.Context, e *env, _ string) (row, error) {
	gc := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &goChannelRow{e: e, gc: gc, cancel: cancel}
	r.cl.add(func(context.Context) error { return gc.Close() })
	r.cl.add(func(context.Context) error { cancel(); return nil })
	ch, err := gc.Subscribe(sctx, "trade")
	if err != nil {
		_ = r.close(ctx)
		return nil, err
	}
	r.ch = ch
	return r, nil
}

func (r *goChannelRow) msg(i int) *message.Message {
	k := i % len(r.e.fx.payloads)
	m := message.NewMessage(watermill.NewUUID(), r.e.fx.payloads[k])
	m.Metadata = copyMD(r.e.fx.metadata[k])
	return m
}

func (r *goChannelRow) publishN(_ context.Context, n int) error {
	for i := range n {
		if err := r.gc.Publish("trade", r.msg(i)); err != nil {
			return err
		}
	}
	return nil
}

func (r *goChannelRow) publishSeq(_ context.Context, seq int) error {
	m := r.msg(seq)
	m.Metadata.Set(seqHeader, seqString(seq))
	return r.gc.Publish("trade", m)
}

func (r *goChannelRow) flush(context.Context) error { return nil }

func (r *goChannelRow) start(ctx context.Context, h *hook) error {
	stop, err := startRouter(ctx, h, func(rt *message.Router) error {
		rt.AddConsumerHandler("bench", "trade", preSubscribed{r.ch, r.cancel}, adapterHandler(h))
		return nil
	})
	if err != nil {
		return err
	}
	r.cl.add(func(context.Context) error { return stop() })
	return nil
}

func (r *goChannelRow) close(ctx context.Context) error { return r.cl.close(ctx) }

// adapterHandler is the handler of the raw-router and adapter rows: count,
// ack.
func adapterHandler(h *hook) message.NoPublishHandlerFunc {
	return func(m *message.Message) error {
		seq := -1
		if h.wantSeq() {
			seq = parseSeq(m.Metadata.Get(seqHeader))
		}
		h.hit(seq)
		return nil
	}
}

func copyMD(md message.Metadata) message.Metadata {
	out := make(message.Metadata, len(md)+1)
	for k, v := range md {
		out[k] = v
	}
	return out
}
