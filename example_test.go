package tradebus_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/tradebus/tradebus"
	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/subscriber"
	_ "github.com/tradebus/tradebus/transport/all" // every broker's URL scheme (or import only yours)
)

// A service in one call: the transport from a URL, the consumer group
// stated once, the default reliability stack, typed handlers, and Run,
// which ends on SIGINT or SIGTERM (or its ctx) after draining the
// handlers. The README's Quickstart mirrors this example.
func ExampleService() {
	ctx, stop := context.WithCancel(context.Background())
	svc, err := tradebus.NewService(ctx, "mem://", "strategy") // or amqp://…, kafka://…, redis://…, nats://…
	if err != nil {
		log.Fatal(err)
	}
	err = subscriber.On(svc.Group(), "trade.*.BTCUSDT", func(ctx context.Context, t events.Trade) error {
		fmt.Println(t.Symbol, t.Side, t.Amount, "@", t.Price) // ctx: publish with it to chain correlation ids
		stop()                                                // ends this example; a service runs until SIGINT or SIGTERM
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		<-svc.Running() // subscribed: what is published now is handled
		_ = svc.Publisher().Publish(ctx, events.Trade{Exchange: "binance", Symbol: "BTCUSDT", Side: events.SideSell,
			Price: events.MustDecimal("64250.10"), Amount: events.MustDecimal("0.0125"), Time: time.Now()})
	}()
	fmt.Println("run:", svc.Run(ctx)) // drains the handlers, then closes the transport
	// Output:
	// BTCUSDT SELL 0.0125 @ 64250.1
	// run: <nil>
}
