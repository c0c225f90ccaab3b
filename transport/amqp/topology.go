package amqp

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
)

// maxQueueName is RabbitMQ's limit on queue names, in bytes.
const maxQueueName = 255

// queueName is QueueName for a validated group and pattern.
func (t *Transport) queueName(group, pattern string) string {
	return t.cfg.exchange + "." + group + "." + pattern
}

// checkSubscription validates a consumer group and a subscription pattern
// and returns the queue name.
func (t *Transport) checkSubscription(group, pattern string) (string, error) {
	if err := events.ValidateSegment(group); err != nil {
		return "", fmt.Errorf("%w: consumer group %q: %w", ErrInvalidOption, group, err)
	}
	if err := events.ValidatePattern(pattern); err != nil {
		return "", fmt.Errorf("%w: subscription pattern %q: %w", ErrInvalidOption, pattern, err)
	}
	q := t.queueName(group, pattern)
	if len(q) > maxQueueName {
		return "", fmt.Errorf("%w: queue name %q is longer than %d bytes", ErrInvalidOption, q, maxQueueName)
	}
	return q, nil
}

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
func (t *Transport) declareSubscription(ch *amqp.Channel, queue, pattern string) error {
	if err := declareExchange(ch, t.cfg.exchange); err != nil {
		return err
	}
	if t.cfg.deadLetter != "" {
		if err := declareExchange(ch, t.cfg.deadLetter); err != nil {
			return err
		}
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, t.cfg.queueArgs()); err != nil {
		return fmt.Errorf("amqp: declare queue %q: %w", queue, err)
	}
	if err := ch.QueueBind(queue, pattern, t.cfg.exchange, false, nil); err != nil {
		return fmt.Errorf("amqp: bind queue %q to %q with %q: %w", queue, t.cfg.exchange, pattern, err)
	}
	return nil
}
