package subscriber_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
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
