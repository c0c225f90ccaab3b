package events_test

import (
	"time"

	"github.com/tradebus/tradebus/events"
)

var (
	d  = events.MustDecimal
	t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
)

func validTicker() events.Ticker {
	return events.Ticker{
		Exchange: "binance", Symbol: "BTCUSDT",
		Bid: d("64999.5"), BidSize: d("1.25"), Ask: d("65000.1"), AskSize: d("0.5"),
		Last: d("65000"), High: d("66000"), Low: d("63000"),
		Volume: d("12345.678"), QuoteVolume: d("802469070.5"), Time: t0,
	}
}

func validTrade() events.Trade {
	return events.Trade{
		Exchange: "binance", Symbol: "BTCUSDT", TradeID: "T-1001",
		Price: d("65000.12"), Amount: d("0.015"), Side: events.SideBuy,
		TakerOrMaker: events.Taker, Time: t0,
	}
}

func validBook() events.OrderBook {
	return events.OrderBook{
		Exchange: "binance", Symbol: "BTCUSDT", Kind: events.BookSnapshot, Sequence: 9001,
		Bids: []events.PriceLevel{{Price: d("64999.5"), Amount: d("1")}, {Price: d("64999"), Amount: d("2.5")}, {Price: d("64990"), Amount: d("3")}},
		Asks: []events.PriceLevel{{Price: d("65000.1"), Amount: d("0.5")}, {Price: d("65001"), Amount: d("1.2")}, {Price: d("65010"), Amount: d("4")}},
		Time: t0,
	}
}

func validDelta() events.OrderBook {
	b := validBook()
	b.Kind = events.BookDelta
	b.Bids[1].Amount = events.Decimal{} // removes the level
	return b
}

func validCandle() events.Candle {
	return events.Candle{
		Exchange: "binance", Symbol: "BTCUSDT", Interval: "1m",
		Open: d("65000"), High: d("65100"), Low: d("64900"), Close: d("65050"), Volume: d("12.5"),
		OpenTime: t0.Truncate(time.Minute), CloseTime: t0.Truncate(time.Minute).Add(time.Minute), Time: t0,
	}
}

func validSignal() events.Signal {
	return events.Signal{
		Strategy: "meanrev", Exchange: "binance", Symbol: "BTCUSDT", Action: events.SignalBuy,
		Strength: d("0.75"), Price: d("65000"), Reason: "z-score -2.1", Time: t0,
	}
}

func validOrder() events.Order {
	return events.Order{
		Action: events.OrderNew, Exchange: "binance", Symbol: "BTCUSDT", ClOrdID: "c-1",
		Side: events.SideBuy, OrdType: events.OrdTypeLimit, TimeInForce: events.TimeInForceGTC,
		OrderQty: d("0.5"), Price: d("65000"), Account: "acct-1", Time: t0,
	}
}

func validExec() events.ExecutionReport {
	return events.ExecutionReport{
		Exchange: "binance", Symbol: "BTCUSDT", OrderID: "o-77", ClOrdID: "c-1", ExecID: "e-3",
		ExecType: events.ExecTypeTrade, OrdStatus: events.OrdStatusPartiallyFilled, Side: events.SideBuy,
		OrdType: events.OrdTypeLimit, TimeInForce: events.TimeInForceGTC,
		OrderQty: d("0.5"), Price: d("65000"), LastPx: d("64999.5"), LastQty: d("0.2"),
		CumQty: d("0.2"), LeavesQty: d("0.3"), AvgPx: d("64999.5"), TransactTime: t0, Account: "acct-1",
	}
}

func validPosition() events.Position {
	return events.Position{
		Account: "acct-1", Exchange: "binance", Symbol: "BTCUSDT",
		Quantity: d("-0.2"), AvgPrice: d("64999.5"), RealizedPnL: d("-12.34"), Time: t0,
	}
}

func validBalance() events.Balance {
	return events.Balance{
		Account: "acct-1", Exchange: "binance", Asset: "BTC",
		Free: d("1.5"), Locked: d("0.25"), Total: d("1.75"), Time: t0,
	}
}

// allValid returns one valid value of every event type.
func allValid() []events.Event {
	return []events.Event{
		validTicker(), validTrade(), validBook(), validDelta(), validCandle(), validSignal(),
		validOrder(), validExec(), validPosition(), validBalance(),
	}
}
