package amqp_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
)

// NewDriver parses the URL and its options but does not connect:
// connections are dialled on first use (or by Connect; transport.Open
// connects), so this example runs without a broker. The driver runs on
// the portable core, which takes the common options. Credentials never
// show in String or in errors.
func Example() {
	drv, err := amqp.NewDriver("amqp://trader:s3cr3t@localhost:5672/?exchange=market&prefetch=256&delivery_limit=5")
	if err != nil {
		fmt.Println(err)
		return
	}
	tr, err := transport.New(drv, transport.WithConcurrency(8))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = tr.Close(context.Background()) }()
	fmt.Println(drv)

	// The group "pricing" consumes every BTCUSDT trade from this queue.
	fmt.Println(drv.QueueName("pricing", "trade.*.BTCUSDT"))

	_, err = amqp.NewDriver("amqp://trader:s3cr3t@localhost/?prefetch=0")
	fmt.Println(errors.Is(err, transport.ErrInvalidOption), err)

	_, err = amqp.NewDriver("amqp://trader:s3cr3t@localhost/", amqp.WithQueueType(amqp.QueueQuorum), amqp.WithMaxPriority(10))
	fmt.Println(err)
	// Output:
	// amqp driver amqp://trader:xxxxx@localhost:5672/ exchange "market"
	// market.pricing.trade.*.BTCUSDT
	// true transport: invalid option: prefetch="0": want 1 to 65535
	// amqp: invalid option WithMaxPriority(10): x-max-priority needs classic queues; quorum queues do not support it
}
