package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/rpc"
)

// maxOrderNotional is the pre-trade risk limit: an order whose notional
// (quantity × limit price) is above it is refused before it reaches the
// venue.
var maxOrderNotional = events.NewDecimalFromInt(1_000)

// preTradeService is the name the executor asks (rpc.Call) and the risk
// service answers under (rpc.Pattern): requests go to
// "req.pretrade.order.<exchange>.<symbol>".
const preTradeService = "pretrade"

// preTrade is the risk service's side of the pre-trade check: a request/
// reply handler (rpc.Handler) behind the group's middleware stack. It
// approves an order with an ExecutionReport (NEW, no fill) or refuses it
// with a typed error. Decisions are a function of the order alone, so a
// request asked twice gets the same answer.
func (s *system) preTrade(_ context.Context, o events.Order) (events.ExecutionReport, error) {
	notional, err := o.OrderQty.Mul(o.Price)
	if err != nil {
		return events.ExecutionReport{}, err
	}
	if notional.Cmp(maxOrderNotional) > 0 {
		return events.ExecutionReport{}, &rpc.Error{Code: "notional",
			Message: fmt.Sprintf("order notional %s USDT over the %s USDT limit", usd(notional), usd(maxOrderNotional))}
	}
	return events.ExecutionReport{
		Exchange: o.Exchange, Symbol: o.Symbol, OrderID: "PT-" + o.ClOrdID, ClOrdID: o.ClOrdID, ExecID: "PT-" + o.ClOrdID,
		ExecType: events.ExecTypeNew, OrdStatus: events.OrdStatusNew, Side: o.Side, OrdType: o.OrdType,
		TimeInForce: o.TimeInForce, OrderQty: o.OrderQty, Price: o.Price, LeavesQty: o.OrderQty,
		TransactTime: o.Time, Account: o.Account,
	}, nil
}

// checkOrder asks the risk service about o. It returns nil if the order
// may go to the venue, an *rpc.Error if it is refused, and another error if
// no answer came (the signal's handler then fails and is retried). A call
// that gets no answer (a broker restart) is asked again, as the publisher
// resends, within ctx.
func (s *system) checkOrder(ctx context.Context, o events.Order) error {
	wait := publishBackoff
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, preTradeTimeout)
		_, err := rpc.Call[events.ExecutionReport](cctx, s.rpc, preTradeService, o)
		cancel()
		var refused *rpc.Error
		switch {
		case err == nil:
			s.decide(o.ClOrdID, "")
			return nil
		case errors.As(err, &refused):
			s.decide(o.ClOrdID, refused.Message)
			return refused
		case attempt >= publishAttempts || ctx.Err() != nil:
			return fmt.Errorf("pre-trade check of %s: %w", o.ClOrdID, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, publishMaxBackoff)
	}
}

// preTradeTimeout bounds one pre-trade call.
const preTradeTimeout = 10 * time.Second

// decide records the risk service's answer for an order ("" = approved).
func (s *system) decide(clOrdID, refusal string) {
	s.executorMu.Lock()
	defer s.executorMu.Unlock()
	s.decisions[clOrdID] = refusal
}
