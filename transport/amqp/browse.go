package amqp

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time check.
var _ driver.Browser = (*Driver)(nil)

// Browse implements driver.Browser. A RabbitMQ queue can only be read by
// taking messages, so Browse takes the messages ready in the group's queue
// for pattern when it starts (basic.get without ack, on a channel of its
// own; messages a member holds unacked are not ready and not shown),
// passes them in queue order, and then puts them back:
//
//   - classic queue (WithQueueType(QueueClassic)): it closes the channel,
//     and RabbitMQ requeues them in their places. The only trace is the
//     redelivered flag they then carry.
//   - quorum queue (the default): before RabbitMQ 4.3 every return to a
//     quorum queue — channel close or nack — counts as a delivery, and
//     past x-delivery-limit (WithDeliveryLimit, default 20) the message is
//     dropped or dead-lettered, so listing would wear dead letters out.
//     Browse therefore sends an identical copy of each message to the
//     queue alone (default exchange; same body, properties and headers but
//     x-delivery-count) with publisher confirms, and acks the originals
//     only once every copy is confirmed: the queue then holds the same
//     messages in the same order, with their delivery counts reset. Messages
//     published to the queue meanwhile end up before the copies; if Browse
//     fails between the confirms and the ack (connection lost), the
//     originals come back too: duplicates, never a loss.
//
// A queue that does not exist has nothing to show.
func (d *Driver) Browse(ctx context.Context, group, pattern string, fn func(*driver.Message) bool) error {
	queue, err := d.checkQueue(group, pattern)
	if err != nil {
		return err
	}
	conn, err := d.subConn.tryConnect(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("%w: open channel: %w", ErrConnection, err)
	}
	defer func() { _ = ch.Close() }() // returns what was taken and not acked
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("amqp: browse queue %q: %w", queue, err)
	}
	quorum := d.cfg.queueType == QueueQuorum
	if quorum {
		if err := ch.Confirm(false); err != nil {
			return fmt.Errorf("amqp: browse queue %q: confirms: %w", queue, err)
		}
	}
	// Take them all (also after fn stopped): a quorum queue gets copies of
	// exactly what was taken, in order.
	taken := make([]amqp.Delivery, 0, q.Messages)
	for len(taken) < q.Messages {
		if err := ctx.Err(); err != nil {
			return err
		}
		dl, ok, err := ch.Get(queue, false)
		if err != nil {
			return fmt.Errorf("amqp: browse queue %q: get: %w", queue, err)
		}
		if !ok {
			break
		}
		taken = append(taken, dl)
	}
	for i := range taken {
		var dm driver.Message
		fromDelivery(&taken[i], &dm)
		if !fn(&dm) {
			break
		}
	}
	if !quorum || len(taken) == 0 {
		return nil
	}
	return putBackCopies(ctx, ch, queue, taken)
}

// putBackCopies sends a copy of each delivery to queue alone and, once all
// are confirmed, acks the deliveries.
func putBackCopies(ctx context.Context, ch *amqp.Channel, queue string, taken []amqp.Delivery) error {
	confirms := make([]*amqp.DeferredConfirmation, len(taken))
	for i := range taken {
		dl := &taken[i]
		headers := make(amqp.Table, len(dl.Headers)+1)
		for k, v := range dl.Headers {
			if k != "x-delivery-count" {
				headers[k] = v
			}
		}
		if _, ok := headers[events.MetaRoutingKey]; !ok {
			// The copy goes to the queue by name: its routing key
			// travels as a header (see carried).
			headers[events.MetaRoutingKey] = dl.RoutingKey
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, amqp.Publishing{
			Headers: headers, ContentType: dl.ContentType, ContentEncoding: dl.ContentEncoding,
			DeliveryMode: dl.DeliveryMode, Priority: dl.Priority, CorrelationId: dl.CorrelationId,
			ReplyTo: dl.ReplyTo, Expiration: dl.Expiration, MessageId: dl.MessageId, Timestamp: dl.Timestamp,
			Type: dl.Type, UserId: dl.UserId, AppId: dl.AppId, Body: dl.Body,
		})
		if err != nil {
			return fmt.Errorf("amqp: browse queue %q: put back: %w", queue, err)
		}
		confirms[i] = dc
	}
	for _, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("amqp: browse queue %q: put back: %w", queue, err)
		}
		if !ok {
			return fmt.Errorf("amqp: browse queue %q: put back: the broker refused a copy (nack)", queue)
		}
	}
	if err := ch.Ack(taken[len(taken)-1].DeliveryTag, true); err != nil {
		return fmt.Errorf("amqp: browse queue %q: ack the originals: %w", queue, err)
	}
	return nil
}
