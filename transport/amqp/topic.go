package amqp

import (
	"context"
	"fmt"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// returnsCap is the buffer of a mandatory channel's basic.return
// listener, and so the most messages a mandatory SendBatch has in flight
// at once (it publishes bigger batches in chunks): amqp091-go's reader
// blocks on a full listener.
const returnsCap = 1024

// topic publishes to the driver's exchange on a small pool of confirm-mode
// channels of the publishing connection. Each SendBatch call publishes all
// its messages on one channel (so messages of one partition key keep
// their slice order) without waiting, then waits for every confirm.
// Concurrent calls share the channels, except with WithMandatory, where a
// call has a channel to itself (its returns are then its own).
type topic struct {
	d     *Driver
	next  atomic.Uint32
	slots []pubSlot
	free  chan *pubSlot // WithMandatory: the slots not in use
}

// pubSlot is one pooled publishing channel, (re)opened on demand by one
// caller at a time.
type pubSlot struct {
	sem chan struct{} // one opener at a time
	cur atomic.Pointer[pubChan]
}

type pubChan struct {
	ch      *amqp.Channel
	returns chan amqp.Return   // WithMandatory only
	wire    *writeDeadlineConn // the connection's socket (nil: unknown)
}

func newTopic(d *Driver) *topic {
	t := &topic{d: d, slots: make([]pubSlot, d.cfg.pubChannels)}
	if d.cfg.mandatory {
		t.free = make(chan *pubSlot, len(t.slots))
	}
	for i := range t.slots {
		t.slots[i].sem = make(chan struct{}, 1)
		if t.free != nil {
			t.free <- &t.slots[i]
		}
	}
	return t
}

// SendBatch publishes msgs, each with its Key as routing key, persistent,
// all of them before waiting for the first confirm, and returns when the
// broker confirmed every one (unless WithoutConfirms). The call is bounded
// by ctx and by WithPublishTimeout; while the broker is unreachable it
// waits for a reconnect within those bounds and then fails with an error
// wrapping ErrConnection. A message the broker nacked fails with ErrNacked,
// one it returned (WithMandatory) with ErrUnroutable; messages whose
// confirm was lost with the channel fail with ErrConnection (they may have
// been stored: publishing them again can duplicate them). When some
// messages were confirmed and others failed, the error is a
// *driver.SendError naming the failed ones. A message whose header does
// not fit an AMQP frame is rejected before anything is sent, with an error
// wrapping transport.ErrTooLarge.
func (t *topic) SendBatch(ctx context.Context, msgs []*driver.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	d := t.d
	pubs, err := t.publishings(msgs)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, d.cfg.publishTimeout)
	defer cancel()
	var slot *pubSlot
	if t.free == nil {
		slot = &t.slots[int(t.next.Add(1))%len(t.slots)]
	} else {
		select {
		case slot = <-t.free:
			defer func() { t.free <- slot }()
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for a publishing channel: %w", ErrConnection, ctx.Err())
		case <-d.done:
			return ErrClosed
		}
	}
	pc, err := t.open(ctx, slot)
	if err != nil {
		return err
	}

	var failed map[int]error
	chunk := len(msgs)
	if pc.returns != nil {
		chunk = returnsCap
	}
	for off := 0; off < len(msgs); off += chunk {
		end := min(off+chunk, len(msgs))
		f, complete := t.publish(ctx, pc, msgs[off:end], pubs[off:end])
		for i, err := range f {
			if failed == nil {
				failed = make(map[int]error)
			}
			failed[off+i] = err
		}
		if !complete {
			if pc.returns != nil {
				// Confirms and returns of this call may still come:
				// they must not reach the next call.
				_ = pc.ch.Close()
			}
			for i := end; i < len(msgs); i++ {
				failed[i] = f[end-off-1]
			}
			break
		}
	}
	return sendResult(failed, len(msgs))
}

// sendResult is SendBatch's error for the failed messages of n.
func sendResult(failed map[int]error, n int) error {
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) == n:
		return failed[0] // nothing stored: one error
	default:
		return &driver.SendError{Failed: failed}
	}
}

// publishings checks msgs and converts them.
func (t *topic) publishings(msgs []*driver.Message) ([]amqp.Publishing, error) {
	d := t.d
	if d.isClosed() {
		return nil, ErrClosed
	}
	pubs := make([]amqp.Publishing, len(msgs))
	frame, _ := d.pubConn.negotiated()
	for i, dm := range msgs {
		p, err := toPublishing(dm)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		if n := headerFrameSize(&p); n > frame {
			return nil, &transport.TooLargeError{Driver: "amqp", Key: dm.Key, UUID: dm.UUID, What: "metadata (AMQP header frame)", Size: n, Limit: frame}
		}
		pubs[i] = p
	}
	return pubs, nil
}

// SendPipelined implements driver.PipelinedTopic: every pipelined call
// publishes on one channel, the first of the pool (RabbitMQ keeps the
// order of one channel's messages to a queue), and returns once its
// messages are written to the connection; wait waits for their confirms.
// With WithMandatory a call needs a channel to itself (its returns are its
// own): it then sends and waits for the whole batch before returning.
func (t *topic) SendPipelined(ctx context.Context, msgs []*driver.Message) (func() error, error) {
	d := t.d
	if t.free != nil {
		err := t.SendBatch(ctx, msgs)
		return func() error { return err }, nil
	}
	pubs, err := t.publishings(msgs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.publishTimeout)
	pc, err := t.open(ctx, &t.slots[0])
	if err != nil {
		cancel()
		return nil, err
	}
	dcs, sent, serr := t.write(pc, msgs, pubs)
	return func() error {
		defer cancel()
		failed, _ := t.confirm(ctx, pc, msgs, dcs, sent, serr)
		return sendResult(failed, len(msgs))
	}, nil
}

// publish publishes msgs on pc and waits for their confirms (and, with
// WithMandatory, collects their returns). It returns the failed messages
// (indices into msgs) and whether every message was published and
// confirmed or nacked; when not, failed has an entry for the last message.
func (t *topic) publish(ctx context.Context, pc *pubChan, msgs []*driver.Message, pubs []amqp.Publishing) (failed map[int]error, complete bool) {
	dcs, sent, err := t.write(pc, msgs, pubs)
	return t.confirm(ctx, pc, msgs, dcs, sent, err)
}

// write publishes pubs on pc without waiting: their deferred
// confirmations (nil without confirms), how many were sent, and the error
// that stopped the others.
func (t *topic) write(pc *pubChan, msgs []*driver.Message, pubs []amqp.Publishing) ([]*amqp.DeferredConfirmation, int, error) {
	var dcs []*amqp.DeferredConfirmation
	if t.d.cfg.confirms {
		dcs = make([]*amqp.DeferredConfirmation, len(pubs))
	}
	sent, err := t.send(pc, msgs, pubs, dcs)
	return dcs, sent, err
}

// confirm waits for the confirms of what write sent (and collects the
// returns), as publish documents; sent and serr are write's.
func (t *topic) confirm(ctx context.Context, pc *pubChan, msgs []*driver.Message, dcs []*amqp.DeferredConfirmation, sent int, serr error) (failed map[int]error, complete bool) {
	fail := func(i int, err error) {
		if failed == nil {
			failed = make(map[int]error)
		}
		failed[i] = err
	}
	if serr != nil {
		err := fmt.Errorf("%w: publish: %w", ErrConnection, serr)
		for j := sent; j < len(msgs); j++ {
			fail(j, err)
		}
	}
	complete = sent == len(msgs)
	if dcs == nil {
		return failed, complete
	}
	for i, dc := range dcs[:sent] {
		select {
		case <-dc.Done():
			if dc.Acked() {
				continue
			}
			if pc.ch.IsClosed() {
				complete = false
				fail(i, fmt.Errorf("%w: channel closed before the broker confirmed", ErrConnection))
			} else {
				fail(i, ErrNacked)
			}
		case <-ctx.Done():
			complete = false
			err := fmt.Errorf("%w: no confirm: %w", ErrConnection, ctx.Err())
			for j := i; j < len(msgs); j++ {
				fail(j, err)
			}
			return failed, false
		}
	}
	if pc.returns != nil && complete {
		// The broker sends a message's basic.return before its
		// basic.ack, and amqp091-go hands them on in that order: every
		// return of msgs is in the buffer now, in publish order.
		next := 0
	drain:
		for {
			select {
			case r, ok := <-pc.returns:
				if !ok {
					break drain
				}
				for k := next; k < len(msgs); k++ {
					if msgs[k].Key == r.RoutingKey && messageID(msgs[k]) == r.MessageId {
						fail(k, fmt.Errorf("%w: routing key %q: %s", ErrUnroutable, r.RoutingKey, r.ReplyText))
						next = k + 1
						break
					}
				}
			default:
				break drain
			}
		}
	}
	return failed, complete
}

// send publishes pubs on pc without waiting, recording their deferred
// confirmations in dcs (nil: no confirms), and returns how many it sent.
// The connection is corked meanwhile: amqp091-go writes each message with
// a system call of its own, the broker then reads them one by one; corked,
// a batch takes one write per 64 KiB.
func (t *topic) send(pc *pubChan, msgs []*driver.Message, pubs []amqp.Publishing, dcs []*amqp.DeferredConfirmation) (int, error) {
	if pc.wire != nil && len(pubs) > 1 {
		pc.wire.cork()
		defer pc.wire.uncork()
	}
	exchange, mandatory := t.d.cfg.exchange, pc.returns != nil
	for i := range pubs {
		dc, err := pc.ch.PublishWithDeferredConfirm(exchange, msgs[i].Key, mandatory, false, pubs[i])
		if err != nil {
			return i, err
		}
		if dcs != nil {
			dcs[i] = dc
		}
		pubs[i] = amqp.Publishing{} // release the headers early
	}
	return len(pubs), nil
}

// messageID is the AMQP message_id toPublishing gives dm.
func messageID(dm *driver.Message) string {
	id := dm.Metadata[events.MetaID]
	if id == "" {
		id = dm.UUID
	}
	return shortStr(id)
}

// open returns slot's channel, opening it (and the connection, waiting
// for a reconnect within ctx) when needed.
func (t *topic) open(ctx context.Context, slot *pubSlot) (*pubChan, error) {
	if pc := slot.cur.Load(); pc != nil && !pc.ch.IsClosed() {
		return pc, nil
	}
	select {
	case slot.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the publishing channel: %w", ErrConnection, ctx.Err())
	case <-t.d.done:
		return nil, ErrClosed
	}
	defer func() { <-slot.sem }()
	if pc := slot.cur.Load(); pc != nil && !pc.ch.IsClosed() {
		return pc, nil
	}
	pc, err := t.openChannel(ctx)
	if err != nil {
		return nil, err
	}
	slot.cur.Store(pc)
	return pc, nil
}

// channel opens the channel of slot i (Connect uses it).
func (t *topic) channel(ctx context.Context, i int) error {
	_, err := t.open(ctx, &t.slots[i])
	return err
}

func (t *topic) openChannel(ctx context.Context) (*pubChan, error) {
	d := t.d
	var lastErr error
	// A connection that dies right after the dial is dialled again, a
	// few times at most.
	for range 3 {
		conn, err := d.pubConn.connect(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := conn.Channel()
		if err != nil {
			lastErr = err
			if conn.IsClosed() {
				continue
			}
			return nil, fmt.Errorf("%w: open channel: %w", ErrConnection, err)
		}
		if d.cfg.confirms {
			if err := ch.Confirm(false); err != nil {
				_ = ch.Close()
				lastErr = err
				continue
			}
		}
		if err := declareExchange(ch, d.cfg.exchange); err != nil {
			_ = ch.Close()
			return nil, err
		}
		pc := &pubChan{ch: ch, wire: d.pubConn.wireOf(conn)}
		if d.cfg.mandatory {
			pc.returns = ch.NotifyReturn(make(chan amqp.Return, returnsCap))
		}
		return pc, nil
	}
	return nil, fmt.Errorf("%w: open channel: %w", ErrConnection, lastErr)
}
