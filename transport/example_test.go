package transport_test

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
)

// Open picks the broker by URL scheme; everything above it stays the same.
func ExampleOpen() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://?concurrency=16")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close(ctx)

	sub, _ := tr.Subscriber("risk")
	msgs, _ := sub.Subscribe(ctx, "exec.*.BTCUSDT")
	_ = tr.Publisher().Publish("exec.binance.ETHUSDT", newMsg("skipped"))
	_ = tr.Publisher().Publish("exec.binance.BTCUSDT", newMsg("matched"))
	msg := <-msgs
	msg.Ack()
	fmt.Println(string(msg.Payload), msg.Metadata["routingkey"])

	_, err = transport.Open(ctx, "amqp//guest:secret@localhost")
	fmt.Println(err)
	// Output:
	// matched exec.binance.BTCUSDT
	// transport: invalid URL: "amqp//xxxxx@localhost" is not scheme://… (want one of amqp, amqps, kafka, mem, nats, redis, rediss, tls)
}

func newMsg(body string) *message.Message {
	return message.NewMessage(watermill.NewUUID(), []byte(body))
}
