package amqp

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// maxQueueName is RabbitMQ's limit on queue names, in bytes.
const maxQueueName = 255

func declareExchange(ch *amqp.Channel, name string) error {
	if err := ch.ExchangeDeclare(name, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("amqp: declare exchange %q: %w", name, err)
	}
	return nil
}

// queueArgs are the x-arguments of subscription queues.
func (c *config) queueArgs() amqp.Table {
	args := amqp.Table{"x-queue-type": string(c.queueType)}
	if c.queueType == QueueQuorum && c.deliveryLimit > 0 {
		args["x-delivery-limit"] = int64(c.deliveryLimit)
	}
	if c.maxPriority > 0 {
		args["x-max-priority"] = int64(c.maxPriority)
	}
	if c.deadLetter != "" {
		args["x-dead-letter-exchange"] = c.deadLetter
	}
	return args
}

// declareSubscription declares the exchange(s), the durable queue and its
// binding. It is idempotent and runs on every (re)connect.
func (d *Driver) declareSubscription(ch *amqp.Channel, queue, pattern string) error {
	if err := declareExchange(ch, d.cfg.exchange); err != nil {
		return err
	}
	if d.cfg.deadLetter != "" {
		if err := declareExchange(ch, d.cfg.deadLetter); err != nil {
			return err
		}
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, d.cfg.queueArgs()); err != nil {
		return fmt.Errorf("amqp: declare queue %q: %w", queue, err)
	}
	if err := ch.QueueBind(queue, pattern, d.cfg.exchange, false, nil); err != nil {
		return fmt.Errorf("amqp: bind queue %q to %q with %q: %w", queue, d.cfg.exchange, pattern, err)
	}
	return nil
}
