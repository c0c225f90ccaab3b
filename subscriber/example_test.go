package subscriber_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

func Example() {
	ctx := context.Background()
	tr, _ := mem.New()
	defer tr.Close(ctx)
	router, _ := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})

	done := make(chan struct{})
	sub, _ := tr.Subscriber("strategy")
	_, err := subscriber.Handle(router, sub, "trade.*.BTCUSDT", func(ctx context.Context, t events.Trade) error {
		env, _ := events.EnvelopeFromContext(ctx)
		fmt.Println(env.RoutingKey, t.Side, t.Amount, "@", t.Price)
		close(done)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() { _ = router.Run(ctx) }()
	<-router.Running()

	pub, _ := publisher.New(tr.Publisher())
	_ = pub.Publish(ctx, events.Trade{
		Exchange: "kraken", Symbol: "BTCUSDT", Price: events.MustDecimal("64000.5"),
		Amount: events.MustDecimal("0.25"), Side: events.SideBuy, Time: time.Now(),
	})
	<-done
	_ = router.Close()
	// Output:
	// trade.kraken.BTCUSDT BUY 0.25 @ 64000.5
}

// The fast path: a Group runs typed handlers of one consumer group on the
// transport's key-ordered workers, behind the default reliability stack,
// with no Watermill router. tradebus.Service wires the same pieces in one
// call; the README's "Composing the pieces" mirrors this example.
func ExampleGroup() {
	ctx, stop := context.WithCancel(context.Background())
	tr, _ := transport.Open(ctx, "mem://") // or amqp://…, kafka://…, redis://…, nats://…
	defer tr.Close(context.Background())

	pub, _ := publisher.New(tr.Publisher(), publisher.WithSource("/gateway/binance"))
	stack, _ := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("strategy"))
	sub, _ := tr.Subscriber("strategy")                  // consumer group
	group, _ := subscriber.NewGroupWithStack(sub, stack) // an error if the stack was built for another group

	done := make(chan struct{})
	_ = subscriber.On(group, "trade.*.BTCUSDT", func(ctx context.Context, t events.Trade) error {
		// ctx carries the envelope: events published with it chain
		// correlation and causation ids.
		fmt.Println(t.Symbol, t.Side, t.Amount, "@", t.Price)
		close(done)
		return nil
	})
	ran := make(chan error, 1)
	go func() { ran <- group.Run(ctx) }()
	<-group.Running() // subscribed: what is published now is handled

	_ = pub.Publish(ctx, events.Trade{
		Exchange: "binance", Symbol: "BTCUSDT", TradeID: "8612",
		Price: events.MustDecimal("64250.10"), Amount: events.MustDecimal("0.0125"),
		Side: events.SideSell, Time: time.Now(),
	})
	<-done
	stop() // Run drains the handlers and returns
	fmt.Println("run:", <-ran)
	// Output:
	// BTCUSDT SELL 0.0125 @ 64250.1
	// run: <nil>
}
