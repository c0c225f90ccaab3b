package publisher_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport/mem"
)

func Example() {
	ctx := context.Background()
	tr, _ := mem.New()
	defer tr.Close(ctx)

	sub, _ := tr.Subscriber("example")
	msgs, _ := sub.Subscribe(ctx, "trade.*.BTCUSDT")

	pub, _ := publisher.New(tr.Publisher(), publisher.WithSource("/gateway/binance"))
	err := pub.Publish(ctx, events.Trade{
		Exchange: "binance", Symbol: "BTCUSDT", TradeID: "8612",
		Price: events.MustDecimal("64250.10"), Amount: events.MustDecimal("0.0125"),
		Side: events.SideSell, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var msg *message.Message = <-msgs
	msg.Ack()
	fmt.Println(msg.Metadata[events.MetaRoutingKey], msg.Metadata[events.MetaType], msg.Metadata[events.MetaTime])
	fmt.Println(string(msg.Payload))
	// Output:
	// trade.binance.BTCUSDT tradebus.trade.v1 2026-01-02T03:04:05.000000006Z
	// {"exchange":"binance","symbol":"BTCUSDT","id":"8612","price":"64250.1","amount":"0.0125","side":"SELL","datetime":"2026-01-02T03:04:05.000000006Z"}
}
