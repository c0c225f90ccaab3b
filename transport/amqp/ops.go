package amqp

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time checks.
var (
	_ driver.Pinger       = (*Driver)(nil)
	_ driver.Inspector    = (*Driver)(nil)
	_ driver.GroupDeleter = (*Driver)(nil)
)

// onChannel opens a channel on conn's connection (one dial attempt if it
// is down), runs fn on it and closes it, within ctx. amqp091-go's channel
// methods take no context: when ctx ends first, onChannel returns ctx's
// error and the call ends in the background once the broker answers or
// the connection dies (its heartbeat bounds that).
func (d *Driver) onChannel(ctx context.Context, conn *connector, fn func(*amqp.Channel) error) error {
	if d.isClosed() {
		return ErrClosed
	}
	c, err := conn.tryConnect(ctx)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		ch, err := c.Channel()
		if err != nil {
			done <- fmt.Errorf("%w: open channel: %w", ErrConnection, err)
			return
		}
		err = fn(ch)
		if cerr := ch.Close(); err == nil && cerr != nil && !errors.Is(cerr, amqp.ErrClosed) {
			err = fmt.Errorf("%w: close channel: %w", ErrConnection, cerr)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("amqp: %w", ctx.Err())
	}
}

// Ping opens and closes a channel on each of the driver's two connections
// (publishing and consuming), dialling a connection that is down once:
// two round trips per connection.
func (d *Driver) Ping(ctx context.Context) error {
	for _, c := range []*connector{d.pubConn, d.subConn} {
		if err := d.onChannel(ctx, c, func(*amqp.Channel) error { return nil }); err != nil {
			return fmt.Errorf("amqp: ping (%s connection): %w", c.role, err)
		}
	}
	return nil
}

// inspect declares the group's queue passively: its ready messages and
// consumers, or an error wrapping transport.ErrGroupNotFound.
func inspect(ch *amqp.Channel, queue string) (amqp.Queue, error) {
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
		return q, fmt.Errorf("amqp: queue %q: %w", queue, transport.ErrGroupNotFound)
	}
	if err != nil {
		return q, fmt.Errorf("amqp: inspect queue %q: %w", queue, err)
	}
	return q, nil
}

// Lag declares the group's queue passively (a channel open, one
// queue.declare, a channel close on the consuming connection). AMQP
// reports the ready messages only: Pending is exact, InFlight and
// Unacked (messages delivered to a consumer and not acked) are
// driver.Unknown — RabbitMQ tells them only through its management API.
func (d *Driver) Lag(ctx context.Context, group, pattern string) (driver.GroupLag, error) {
	name, err := d.checkQueue(group, pattern)
	if err != nil {
		return driver.GroupLag{}, err
	}
	var q amqp.Queue
	err = d.onChannel(ctx, d.subConn, func(ch *amqp.Channel) error {
		q, err = inspect(ch, name)
		return err
	})
	if err != nil {
		return driver.GroupLag{}, err
	}
	return driver.GroupLag{Pending: int64(q.Messages), InFlight: driver.Unknown, Unacked: driver.Unknown}, nil
}

// DeleteGroup deletes the group's queue (its bindings and messages go with
// it); the exchange and the dead-letter exchange stay. It refuses, with
// transport.ErrGroupInUse, while the queue has a consumer anywhere: the
// passive declare before the delete reports consumers, and a classic
// queue's delete is if-unused too (quorum queues do not support if-unused,
// so a consumer that attaches between the two is cut off).
func (d *Driver) DeleteGroup(ctx context.Context, group, pattern string) error {
	name, err := d.checkQueue(group, pattern)
	if err != nil {
		return err
	}
	return d.onChannel(ctx, d.subConn, func(ch *amqp.Channel) error {
		q, err := inspect(ch, name)
		if err != nil {
			return err
		}
		if q.Consumers > 0 {
			return fmt.Errorf("amqp: delete queue %q: %w: %d consumers", name, transport.ErrGroupInUse, q.Consumers)
		}
		ifUnused := d.cfg.queueType != QueueQuorum
		_, err = ch.QueueDelete(name, ifUnused, false, false)
		var aerr *amqp.Error
		if errors.As(err, &aerr) && aerr.Code == amqp.PreconditionFailed {
			return fmt.Errorf("amqp: delete queue %q: %w: %w", name, transport.ErrGroupInUse, err)
		}
		if err != nil {
			return fmt.Errorf("amqp: delete queue %q: %w", name, err)
		}
		return nil
	})
}
