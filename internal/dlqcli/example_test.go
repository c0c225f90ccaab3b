package dlqcli_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/dlqcli"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/transport/mem"
)

// List reads a poison queue without consuming it: listing twice shows the
// same dead letter.
func ExampleList() {
	tr, _ := mem.New()
	defer tr.Close(context.Background())
	q := dlqcli.Query{Topic: "deadletter.risk"}
	_ = dlqcli.Init(tr, q) // the reader group "dlq" keeps dead letters from now on

	p, _ := middleware.NewPoison(tr.Publisher(), middleware.WithConsumerGroup("risk"),
		middleware.WithLogger(slog.New(slog.DiscardHandler)))
	msg := message.NewMessage("ev-1", []byte(`{}`))
	msg.Metadata.Set(events.MetaRoutingKey, "order.binance.BTCUSDT")
	_, _ = p.Middleware(func(*message.Message) ([]*message.Message, error) {
		return nil, middleware.Permanent(errors.New("over the risk limit"))
	})(msg)

	for range 2 {
		res, err := dlqcli.List(context.Background(), tr, q, func(d middleware.Poisoned) {
			fmt.Println(d.EventID, d.RoutingKey, d.Class, d.Reason)
		})
		fmt.Println(res.Matched, "of", res.DeadLetters, err)
	}
	// Output:
	// ev-1 order.binance.BTCUSDT permanent over the risk limit
	// 1 of 1 <nil>
	// ev-1 order.binance.BTCUSDT permanent over the risk limit
	// 1 of 1 <nil>
}
