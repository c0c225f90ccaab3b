package transport_test

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
)

// Lag reports a consumer group's backlog; DeleteGroup removes the group's
// broker-side state (here its in-process queue) for good.
func ExampleLag() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close(ctx)
	if err := tr.Ping(ctx); err != nil {
		fmt.Println(err)
		return
	}

	// The group's queue, created without consuming: it keeps what is
	// published while the group has no member.
	sub, _ := tr.Subscriber("risk")
	_ = sub.(message.SubscribeInitializer).SubscribeInitialize("exec.#")
	for range 3 {
		_ = tr.Publisher().Publish("exec.binance.BTCUSDT", newMsg("fill"))
	}
	l, _ := transport.Lag(ctx, tr, "risk", "exec.#")
	fmt.Printf("pending %d, in flight %d, unacked %d\n", l.Pending, l.InFlight, l.Unacked)

	fmt.Println(transport.DeleteGroup(ctx, tr, "risk", "exec.#"))
	_, err = transport.Lag(ctx, tr, "risk", "exec.#")
	fmt.Println(err)
	// Output:
	// pending 3, in flight 0, unacked 3
	// <nil>
	// mem: transport: consumer group not found: group "risk" pattern "exec.#"
}

// The operations of the README's "Operations" section, on a group with
// two events waiting.
func ExampleDeleteGroup() {
	ctx := context.Background()
	tr, _ := transport.Open(ctx, "mem://")
	defer tr.Close(ctx)
	sub, _ := tr.Subscriber("risk")
	_ = sub.(message.SubscribeInitializer).SubscribeInitialize("exec.#")
	_ = tr.Publisher().Publish("exec.binance.BTCUSDT", newMsg("fill"), newMsg("fill"))

	err := tr.Ping(ctx) // a round trip to the broker; ErrClosed after Close
	fmt.Println("ping:", err)
	lag, err := transport.Lag(ctx, tr, "risk", "exec.#")
	fmt.Println("pending, in flight, unacked:", lag.Pending, lag.InFlight, lag.Unacked, err)
	err = transport.DeleteGroup(ctx, tr, "risk", "exec.#") // its queue, consumer group or durable consumer
	fmt.Println("deleted:", err)
	// Output:
	// ping: <nil>
	// pending, in flight, unacked: 2 0 2 <nil>
	// deleted: <nil>
}
