package amqp

import (
	"context"
	"fmt"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// topic publishes to the driver's exchange on a small pool of confirm-mode
// channels of the publishing connection. Each SendBatch call publishes all
// its messages on one channel (so messages of one partition key keep
// their slice order) without waiting, then waits for every confirm.
// Concurrent calls share the channels.
type topic struct {
	d     *Driver
	next  atomic.Uint32
	slots []pubSlot
}

// pubSlot is one pooled publishing channel, (re)opened on demand by one
// caller at a time.
type pubSlot struct {
	sem chan struct{} // one opener at a time
	ch  atomic.Pointer[amqp.Channel]
}

func newTopic(d *Driver) *topic {
	t := &topic{d: d, slots: make([]pubSlot, d.cfg.pubChannels)}
	for i := range t.slots {
		t.slots[i].sem = make(chan struct{}, 1)
	}
	return t
}

// SendBatch publishes msgs, each with its Key as routing key, persistent,
// all of them before waiting for the first confirm, and returns when the
// broker confirmed every one (unless WithoutConfirms). The call is bounded
// by ctx and by WithPublishTimeout; while the broker is unreachable it
// waits for a reconnect within those bounds and then fails with an error
// wrapping ErrConnection. A message the broker nacked fails with ErrNacked;
// messages whose confirm was lost with the channel fail with ErrConnection
// (they may have been stored: publishing them again can duplicate them).
// When some messages were confirmed and others failed, the error is a
// *driver.SendError naming the failed ones. A message whose header does
// not fit an AMQP frame is rejected before anything is sent, with an error
// wrapping transport.ErrTooLarge.
func (t *topic) SendBatch(ctx context.Context, msgs []*driver.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	d := t.d
	if d.isClosed() {
		return ErrClosed
	}
	pubs := make([]amqp.Publishing, len(msgs))
	frame, _ := d.pubConn.negotiated()
	for i, dm := range msgs {
		p, err := toPublishing(dm)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		if n := headerFrameSize(&p); n > frame {
			return &transport.TooLargeError{Driver: "amqp", Key: dm.Key, UUID: dm.UUID, What: "metadata (AMQP header frame)", Size: n, Limit: frame}
		}
		pubs[i] = p
	}

	ctx, cancel := context.WithTimeout(ctx, d.cfg.publishTimeout)
	defer cancel()
	slot := &t.slots[int(t.next.Add(1))%len(t.slots)]
	ch, err := t.open(ctx, slot)
	if err != nil {
		return err
	}

	var dcs []*amqp.DeferredConfirmation
	if d.cfg.confirms {
		dcs = make([]*amqp.DeferredConfirmation, len(pubs))
	}
	exchange := d.cfg.exchange
	sent := len(pubs)
	var sendErr error
	for i := range pubs {
		dc, err := ch.PublishWithDeferredConfirm(exchange, msgs[i].Key, false, false, pubs[i])
		if err != nil {
			sent, sendErr = i, fmt.Errorf("%w: publish: %w", ErrConnection, err)
			break
		}
		if dcs != nil {
			dcs[i] = dc
		}
		pubs[i] = amqp.Publishing{} // release the headers early
	}
	if dcs == nil {
		if sendErr != nil {
			return t.result(len(msgs), sent, nil, sendErr)
		}
		return nil
	}

	var failed map[int]error
	for i, dc := range dcs[:sent] {
		var err error
		select {
		case <-dc.Done():
			if dc.Acked() {
				continue
			}
			if ch.IsClosed() {
				err = fmt.Errorf("%w: channel closed before the broker confirmed", ErrConnection)
			} else {
				err = ErrNacked
			}
		case <-ctx.Done():
			err = fmt.Errorf("%w: no confirm: %w", ErrConnection, ctx.Err())
		}
		if failed == nil {
			failed = make(map[int]error)
		}
		failed[i] = err
	}
	if failed == nil && sendErr == nil {
		return nil
	}
	return t.result(len(msgs), sent, failed, sendErr)
}

// result builds the error of a SendBatch of n messages of which the first
// sent were published and failed of them not confirmed; sendErr is why
// the others were not published.
func (t *topic) result(n, sent int, failed map[int]error, sendErr error) error {
	if failed == nil {
		failed = make(map[int]error)
	}
	for i := sent; i < n; i++ {
		failed[i] = sendErr
	}
	if len(failed) == n {
		// Nothing confirmed: one error, the first message's.
		if err, ok := failed[0]; ok {
			return err
		}
	}
	return &driver.SendError{Failed: failed}
}

// open returns slot's channel, opening it (and the connection, waiting
// for a reconnect within ctx) when needed.
func (t *topic) open(ctx context.Context, slot *pubSlot) (*amqp.Channel, error) {
	if ch := slot.ch.Load(); ch != nil && !ch.IsClosed() {
		return ch, nil
	}
	select {
	case slot.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the publishing channel: %w", ErrConnection, ctx.Err())
	case <-t.d.done:
		return nil, ErrClosed
	}
	defer func() { <-slot.sem }()
	if ch := slot.ch.Load(); ch != nil && !ch.IsClosed() {
		return ch, nil
	}
	ch, err := t.openChannel(ctx)
	if err != nil {
		return nil, err
	}
	slot.ch.Store(ch)
	return ch, nil
}

// channel returns the channel of slot i (Connect uses it).
func (t *topic) channel(ctx context.Context, i int) (*amqp.Channel, error) {
	return t.open(ctx, &t.slots[i])
}

func (t *topic) openChannel(ctx context.Context) (*amqp.Channel, error) {
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
		return ch, nil
	}
	return nil, fmt.Errorf("%w: open channel: %w", ErrConnection, lastErr)
}
