package amqp_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tradebus/tradebus/transport/amqp"
)

// New parses the URL and its options but does not connect: connections are
// dialled on first use (Publish, Subscribe, Connect), so this example runs
// without a broker. Credentials never show in String or in errors.
func Example() {
	tr, err := amqp.New("amqp://trader:s3cr3t@localhost:5672/?exchange=market&prefetch=256&delivery_limit=5")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = tr.Close(context.Background()) }()
	fmt.Println(tr)

	// The group "pricing" consumes every BTCUSDT trade from this queue.
	fmt.Println(tr.QueueName("pricing", "trade.*.BTCUSDT"))

	_, err = amqp.New("amqp://trader:s3cr3t@localhost/?prefetch=0")
	fmt.Println(errors.Is(err, amqp.ErrInvalidOption), err)

	_, err = amqp.New("amqp://trader:s3cr3t@localhost/", amqp.WithQueueType(amqp.QueueQuorum), amqp.WithMaxPriority(10))
	fmt.Println(err)
	// Output:
	// amqp transport amqp://trader:xxxxx@localhost:5672/ exchange "market"
	// market.pricing.trade.*.BTCUSDT
	// true amqp: invalid option WithPrefetch(0): must be in 1..65535
	// amqp: invalid option WithMaxPriority(10): x-max-priority needs classic queues; quorum queues do not support it
}
