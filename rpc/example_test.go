package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/rpc"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// A pre-trade risk check: the executor asks the risk service about an
// order and gets an ExecutionReport back, or a typed refusal.
func Example() {
	ctx := context.Background()
	tr, _ := transport.Open(ctx, "mem://")
	defer tr.Close(ctx)

	// The risk service: an ordinary typed handler behind the default stack.
	srv, _ := rpc.NewServer(tr.Publisher())
	sub, _ := tr.Subscriber("risk")
	stack, _ := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("risk"))
	g, _ := subscriber.NewGroup(sub, stack.Middlewares()...)
	_ = subscriber.On(g, rpc.Pattern("risk", "order.#"), rpc.Handler(srv,
		func(ctx context.Context, o events.Order) (events.ExecutionReport, error) {
			if o.OrderQty.Cmp(events.MustDecimal("10")) > 0 {
				return events.ExecutionReport{}, &rpc.Error{Code: "limit", Message: "over 10 " + o.Symbol}
			}
			return accepted(o), nil
		}))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go g.Run(runCtx)
	<-g.Running()

	// The executor.
	client, _ := rpc.NewClient(ctx, tr)
	defer client.Close(ctx)
	callCtx, cancel := context.WithTimeout(ctx, time.Second) // the risk service sees this deadline
	defer cancel()
	rep, err := rpc.Call[events.ExecutionReport](callCtx, client, "risk", order("BTCUSDT", 1, "2"))
	fmt.Println(rep.ClOrdID, rep.OrdStatus, err)
	_, err = rpc.Call[events.ExecutionReport](callCtx, client, "risk", order("BTCUSDT", 2, "25"))
	var refused *rpc.Error
	fmt.Println(errors.As(err, &refused), refused.Code)
	// Output:
	// c-BTCUSDT-1 NEW <nil>
	// true limit
}

func accepted(o events.Order) events.ExecutionReport {
	r, _ := accept(context.Background(), o)
	return r
}
