package mem_test

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

// A wildcard subscription of one consumer group on an in-process broker.
// Both trades carry the same partition key, so they arrive in order.
func Example() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://?concurrency=64&buffer=1024")
	if err != nil {
		panic(err)
	}
	defer func() { _ = tr.Close(ctx) }()

	sub, err := tr.Subscriber("strategy")
	if err != nil {
		panic(err)
	}
	trades, err := sub.Subscribe(ctx, "trade.*.BTCUSDT")
	if err != nil {
		panic(err)
	}

	for i, key := range []string{"trade.binance.BTCUSDT", "trade.binance.ETHUSDT", "trade.kraken.BTCUSDT"} {
		msg := message.NewMessage(fmt.Sprint(i), []byte(`{"price":"64000.5"}`))
		msg.Metadata.Set("partitionkey", "BTCUSDT")
		if err := tr.Publisher().Publish(key, msg); err != nil {
			panic(err)
		}
	}
	for range 2 {
		msg := <-trades
		fmt.Println(msg.Metadata.Get("routingkey"), string(msg.Payload))
		msg.Ack()
	}
	// Output:
	// trade.binance.BTCUSDT {"price":"64000.5"}
	// trade.kraken.BTCUSDT {"price":"64000.5"}
}

// Every consumer group gets every event; a nacked message comes back.
func Example_consumerGroups() {
	ctx := context.Background()
	tr, err := mem.New()
	if err != nil {
		panic(err)
	}
	defer func() { _ = tr.Close(ctx) }()

	subscribe := func(group string) <-chan *message.Message {
		sub, err := tr.Subscriber(group)
		if err != nil {
			panic(err)
		}
		ch, err := sub.Subscribe(ctx, "order.#")
		if err != nil {
			panic(err)
		}
		return ch
	}
	risk, audit := subscribe("risk"), subscribe("audit")

	if err := tr.Publisher().Publish("order.binance.BTCUSDT", message.NewMessage("o-1", nil)); err != nil {
		panic(err)
	}
	msg := <-risk
	fmt.Println("risk got", msg.UUID, "and nacks it")
	msg.Nack()
	msg = <-risk
	fmt.Println("risk got", msg.UUID, "again")
	msg.Ack()
	msg = <-audit
	fmt.Println("audit got", msg.UUID)
	msg.Ack()
	// Output:
	// risk got o-1 and nacks it
	// risk got o-1 again
	// audit got o-1
}
