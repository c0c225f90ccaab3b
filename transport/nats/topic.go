package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// publishTimeoutWithoutCtx bounds the wait for publish acks when the
// caller's ctx has no deadline: a publish ack lost with a connection would
// otherwise be waited for forever.
const publishTimeoutWithoutCtx = 30 * time.Second

// topic is the Driver's driver.Topic.
type topic struct{ d *Driver }

// SendBatch implements driver.Topic: every message goes to subject
// prefix.<key> with PublishMsgAsync, all of them in flight at once, and
// then SendBatch waits for every publish ack. The stream of each kind in
// the batch is created or updated first if this Driver has not done so
// yet; a stream deleted behind the driver's back is created again and the
// messages it refused are sent once more (topology, not a retry). Messages
// that failed are named in a *driver.SendError; once a PublishMsgAsync
// call fails, the later messages of the batch are not sent (so that no
// later message of a partition key is stored ahead of a failed one) and
// fail with the same error. Metadata that cannot be a header fails the
// whole batch with ErrInvalidMetadata before anything is sent, a message
// over the server's max_payload or with a header block over
// MaxHeaderBytes with transport.ErrTooLarge. A message the server refuses
// for its size all the same (a stream's max_msg_size) fails with an error
// wrapping transport.ErrTooLarge in the *driver.SendError.
func (t *topic) SendBatch(ctx context.Context, msgs []*driver.Message) error {
	if len(msgs) == 0 {
		if t.d.isClosed() {
			return ErrClosed
		}
		return nil
	}
	wait, err := t.SendPipelined(ctx, msgs)
	if err != nil {
		return err
	}
	return wait()
}

// SendPipelined implements driver.PipelinedTopic: it does what SendBatch
// does up to the PublishMsgAsync calls (the connection keeps their order,
// and JetStream stores a subject's messages in the order they arrive), and
// wait does the rest. A batch resent because its stream was deleted behind
// the driver's back may be stored after a batch sent after it.
func (t *topic) SendPipelined(ctx context.Context, msgs []*driver.Message) (func() error, error) {
	d := t.d
	if d.isClosed() {
		return nil, ErrClosed
	}
	limit := d.nc.MaxPayload()
	nms := make([]natsgo.Msg, len(msgs))
	lastKind := ""
	for i, dm := range msgs {
		hdr, size, err := encode(&nms[i], subject(d.cfg.prefix, dm.Key), dm, d.cfg.dupWindow > 0)
		if err != nil {
			return nil, err
		}
		if hdr > MaxHeaderBytes {
			return nil, tooLarge(dm, "headers (JetStream's limit)", hdr, MaxHeaderBytes)
		}
		if limit > 0 && int64(size) > limit {
			return nil, tooLarge(dm, "message (max_payload)", size, limit)
		}
		if kind := events.Kind(dm.Key); kind != lastKind {
			if err := d.ensureStream(ctx, kind); err != nil {
				return nil, fmt.Errorf("nats: publish to %s: %w", dm.Key, err)
			}
			lastKind = kind
		}
	}
	cancel := func() {}
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, publishTimeoutWithoutCtx)
	}
	idx := make([]int, len(msgs))
	for i := range idx {
		idx[i] = i
	}
	futs, failed := t.publish(nms, idx)
	return func() error {
		defer cancel()
		failed, err := t.await(ctx, futs, idx, failed)
		if err != nil {
			return err
		}
		return t.finish(ctx, msgs, nms, failed)
	}, nil
}

// finish resends what a deleted stream refused (once) and returns the
// batch's error.
func (t *topic) finish(ctx context.Context, msgs []*driver.Message, nms []natsgo.Msg, failed map[int]error) error {
	d := t.d
	var again []int
	for i, ferr := range failed {
		if noStream(ferr) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		// The stream is gone (deleted behind our back): create it again
		// and send what it refused, once, in batch order.
		slices.Sort(again)
		for _, i := range again {
			d.forgetStream(events.Kind(msgs[i].Key))
		}
		for _, i := range again {
			if err := d.ensureStream(ctx, events.Kind(msgs[i].Key)); err != nil {
				return fmt.Errorf("nats: publish to %s: %w", msgs[i].Key, err)
			}
			delete(failed, i)
		}
		f2, err := t.send(ctx, nms, again)
		if err != nil {
			return err
		}
		for i, e := range f2 {
			failed[i] = e
		}
	}
	if len(failed) > 0 {
		for i, e := range failed {
			failed[i] = refusedAsTooLarge(msgs[i], e)
		}
		return &driver.SendError{Failed: failed}
	}
	return nil
}

// refusedAsTooLarge wraps transport.ErrTooLarge around err when the
// server refused dm for its size — a stream's max_msg_size (JetStream
// error 10054), the header limit (10097) or max_payload lowered since
// connecting — so that the poison middleware stores such a dead letter
// in its claim store instead of retrying it forever. The checks before
// sending make this rare.
func refusedAsTooLarge(dm *driver.Message, err error) error {
	var apiErr *jetstream.APIError
	if errors.Is(err, natsgo.ErrMaxPayload) || (errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum || apiErr.ErrorCode == jsErrCodeHeaderExceedsMaximum)) {
		return fmt.Errorf("%w: nats: message %s (key %q): %w", transport.ErrTooLarge, dm.UUID, dm.Key, err)
	}
	return err
}

// jsErrCodeHeaderExceedsMaximum is JetStream's "header size exceeds
// maximum allowed of 64k" (nats.go has no constant for it).
const jsErrCodeHeaderExceedsMaximum jetstream.ErrorCode = 10097

// send publishes nms[i] for every i in idx, all in flight at once, and
// waits for their acks. It returns the failed ones by index, or an error
// (ctx done) when the outcome of some is unknown.
func (t *topic) send(ctx context.Context, nms []natsgo.Msg, idx []int) (map[int]error, error) {
	futs, failed := t.publish(nms, idx)
	return t.await(ctx, futs, idx, failed)
}

// publish publishes nms[i] for every i in idx without waiting: the acks'
// futures (nil from the first that failed on) and the failed ones.
func (t *topic) publish(nms []natsgo.Msg, idx []int) ([]jetstream.PubAckFuture, map[int]error) {
	js := t.d.js
	futs := make([]jetstream.PubAckFuture, len(idx))
	var failed map[int]error
	for j, i := range idx {
		f, err := js.PublishMsgAsync(&nms[i])
		if err != nil {
			failed = make(map[int]error)
			for _, k := range idx[j:] {
				failed[k] = err
			}
			break
		}
		futs[j] = f
	}
	return futs, failed
}

// await waits for the acks of futs, adding the failed ones to failed; an
// error (ctx done) when the outcome of some is unknown.
func (t *topic) await(ctx context.Context, futs []jetstream.PubAckFuture, idx []int, failed map[int]error) (map[int]error, error) {
	fail := func(i int, err error) {
		if failed == nil {
			failed = make(map[int]error)
		}
		failed[i] = err
	}
	for j, f := range futs {
		if f == nil {
			break
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			fail(idx[j], err)
		case <-ctx.Done():
			return nil, fmt.Errorf("nats: waiting for %d publish acks: %w", len(futs)-j, ctx.Err())
		}
	}
	return failed, nil
}

// noStream reports that no stream took the subject.
func noStream(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders)
}
