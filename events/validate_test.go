package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

// vcase mutates a valid event; field is the JSON field the error must name
// ("" = the event must stay valid).
type vcase[T events.Event] struct {
	name  string
	mut   func(*T)
	field string
}

func runValidation[T events.Event](t *testing.T, valid func() T, cases []vcase[T]) {
	t.Helper()
	if err := valid().Validate(); err != nil {
		t.Fatalf("fixture invalid: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := valid()
			tc.mut(&v)
			err := v.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				// A valid event must also survive the codec.
				if _, err := events.Marshal(v); err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error naming %q, got nil", tc.field)
			}
			if !errors.Is(err, events.ErrValidation) {
				t.Fatalf("errors.Is(err, ErrValidation) = false: %v", err)
			}
			var ve *events.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("not a *ValidationError: %T %v", err, err)
			}
			if ve.Field != tc.field {
				t.Fatalf("field = %q, want %q (%v)", ve.Field, tc.field, err)
			}
			if ve.Type != v.EventType() {
				t.Fatalf("type = %q, want %q", ve.Type, v.EventType())
			}
			if ve.Reason == "" || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error does not explain itself: %v", err)
			}
			// Marshal refuses invalid events with the same error.
			if _, merr := events.Marshal(v); !errors.Is(merr, events.ErrValidation) {
				t.Fatalf("Marshal accepted an invalid event: %v", merr)
			}
		})
	}
}

var neg = d("-1")

func TestValidateTicker(t *testing.T) {
	runValidation(t, validTicker, []vcase[events.Ticker]{
		{"only last", func(v *events.Ticker) {
			v.Bid, v.Ask, v.BidSize, v.AskSize = events.Decimal{}, events.Decimal{}, events.Decimal{}, events.Decimal{}
		}, ""},
		{"locked market bid == ask", func(v *events.Ticker) { v.Bid = v.Ask }, ""},
		{"empty exchange", func(v *events.Ticker) { v.Exchange = "" }, "exchange"},
		{"dot in exchange", func(v *events.Ticker) { v.Exchange = "bin.ance" }, "exchange"},
		{"empty symbol", func(v *events.Ticker) { v.Symbol = "" }, "symbol"},
		{"wildcard symbol", func(v *events.Ticker) { v.Symbol = "BTC*" }, "symbol"},
		{"hash symbol", func(v *events.Ticker) { v.Symbol = "#" }, "symbol"},
		{"gt symbol", func(v *events.Ticker) { v.Symbol = "BTC>" }, "symbol"},
		{"space symbol", func(v *events.Ticker) { v.Symbol = "BTC USDT" }, "symbol"},
		{"negative bid", func(v *events.Ticker) { v.Bid = neg }, "bid"},
		{"negative bid size", func(v *events.Ticker) { v.BidSize = neg }, "bidVolume"},
		{"negative ask", func(v *events.Ticker) { v.Ask = neg }, "ask"},
		{"negative ask size", func(v *events.Ticker) { v.AskSize = neg }, "askVolume"},
		{"negative last", func(v *events.Ticker) { v.Last = neg }, "last"},
		{"negative high", func(v *events.Ticker) { v.High = neg }, "high"},
		{"negative low", func(v *events.Ticker) { v.Low = neg }, "low"},
		{"negative volume", func(v *events.Ticker) { v.Volume = neg }, "baseVolume"},
		{"negative quote volume", func(v *events.Ticker) { v.QuoteVolume = neg }, "quoteVolume"},
		{"no price at all", func(v *events.Ticker) { v.Bid, v.Ask, v.Last = events.Decimal{}, events.Decimal{}, events.Decimal{} }, "last"},
		{"crossed", func(v *events.Ticker) { v.Bid = d("65000.2") }, "bid"},
		{"low above high", func(v *events.Ticker) { v.Low = d("66000.01") }, "low"},
		{"zero time", func(v *events.Ticker) { v.Time = time.Time{} }, "datetime"},
		{"year 10000", func(v *events.Ticker) { v.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "datetime"},
	})
}

func TestValidateTrade(t *testing.T) {
	runValidation(t, validTrade, []vcase[events.Trade]{
		{"no trade id", func(v *events.Trade) { v.TradeID = "" }, ""},
		{"no taker/maker", func(v *events.Trade) { v.TakerOrMaker = 0 }, ""},
		{"sell maker", func(v *events.Trade) { v.Side, v.TakerOrMaker = events.SideSell, events.Maker }, ""},
		{"18 places", func(v *events.Trade) { v.Amount = d("0.000000000000000001") }, ""},
		{"empty exchange", func(v *events.Trade) { v.Exchange = "" }, "exchange"},
		{"control char symbol", func(v *events.Trade) { v.Symbol = "BTC\x00" }, "symbol"},
		{"trade id with space", func(v *events.Trade) { v.TradeID = "a b" }, "id"},
		{"trade id too long", func(v *events.Trade) { v.TradeID = strings.Repeat("x", 257) }, "id"},
		{"zero price", func(v *events.Trade) { v.Price = events.Decimal{} }, "price"},
		{"negative price", func(v *events.Trade) { v.Price = neg }, "price"},
		{"zero amount", func(v *events.Trade) { v.Amount = events.Decimal{} }, "amount"},
		{"negative amount", func(v *events.Trade) { v.Amount = d("-0.1") }, "amount"},
		{"no side", func(v *events.Trade) { v.Side = 0 }, "side"},
		{"unknown side", func(v *events.Trade) { v.Side = 7 }, "side"},
		{"unknown taker/maker", func(v *events.Trade) { v.TakerOrMaker = 9 }, "takerOrMaker"},
		{"zero time", func(v *events.Trade) { v.Time = time.Time{} }, "datetime"},
	})
}

func TestValidateOrderBook(t *testing.T) {
	runValidation(t, validBook, []vcase[events.OrderBook]{
		{"empty book", func(v *events.OrderBook) { v.Bids, v.Asks = nil, nil }, ""},
		{"one side", func(v *events.OrderBook) { v.Asks = nil }, ""},
		{"no sequence", func(v *events.OrderBook) { v.Sequence = 0 }, ""},
		{"delta with removal", func(v *events.OrderBook) { v.Kind = events.BookDelta; v.Asks[2].Amount = events.Decimal{} }, ""},
		{"delta may look crossed", func(v *events.OrderBook) {
			v.Kind = events.BookDelta
			v.Bids = []events.PriceLevel{{Price: d("70000"), Amount: d("1")}}
		}, ""},
		{"empty symbol", func(v *events.OrderBook) { v.Symbol = "" }, "symbol"},
		{"no kind", func(v *events.OrderBook) { v.Kind = 0 }, "kind"},
		{"bad kind", func(v *events.OrderBook) { v.Kind = 3 }, "kind"},
		{"zero bid price", func(v *events.OrderBook) { v.Bids[1].Price = events.Decimal{} }, "bids[1].price"},
		{"negative ask amount", func(v *events.OrderBook) { v.Asks[2].Amount = neg }, "asks[2].amount"},
		{"snapshot zero amount", func(v *events.OrderBook) { v.Bids[0].Amount = events.Decimal{} }, "bids[0].amount"},
		{"delta negative amount", func(v *events.OrderBook) { v.Kind = events.BookDelta; v.Bids[2].Amount = neg }, "bids[2].amount"},
		{"bids ascending", func(v *events.OrderBook) { v.Bids[2].Price = d("64999.9") }, "bids[2].price"},
		{"duplicate bid level", func(v *events.OrderBook) { v.Bids[1].Price = v.Bids[0].Price }, "bids[1].price"},
		{"asks descending", func(v *events.OrderBook) { v.Asks[1].Price = d("65000") }, "asks[1].price"},
		{"crossed snapshot", func(v *events.OrderBook) { v.Bids[0].Price = d("65000.1") }, "bids[0].price"},
		{"zero time", func(v *events.OrderBook) { v.Time = time.Time{} }, "datetime"},
	})
}

func TestValidateCandle(t *testing.T) {
	runValidation(t, validCandle, []vcase[events.Candle]{
		{"no close time", func(v *events.Candle) { v.CloseTime = time.Time{} }, ""},
		{"flat bar", func(v *events.Candle) { v.Open, v.High, v.Low, v.Close = d("1"), d("1"), d("1"), d("1") }, ""},
		{"zero volume", func(v *events.Candle) { v.Volume = events.Decimal{} }, ""},
		{"interval 1M", func(v *events.Candle) { v.Interval = "1M" }, ""},
		{"interval 15m", func(v *events.Candle) { v.Interval = "15m" }, ""},
		{"empty exchange", func(v *events.Candle) { v.Exchange = "" }, "exchange"},
		{"empty interval", func(v *events.Candle) { v.Interval = "" }, "interval"},
		{"interval no unit", func(v *events.Candle) { v.Interval = "15" }, "interval"},
		{"interval bad unit", func(v *events.Candle) { v.Interval = "1y" }, "interval"},
		{"interval zero", func(v *events.Candle) { v.Interval = "0m" }, "interval"},
		{"interval dot", func(v *events.Candle) { v.Interval = "1.5m" }, "interval"},
		{"zero open", func(v *events.Candle) { v.Open = events.Decimal{} }, "open"},
		{"negative close", func(v *events.Candle) { v.Close = neg }, "close"},
		{"low above open", func(v *events.Candle) { v.Low = d("65001") }, "low"},
		{"low above close", func(v *events.Candle) { v.Close = d("64950"); v.Low = d("64960") }, "low"},
		{"high below open", func(v *events.Candle) { v.High = d("65040"); v.Close = d("65030"); v.Open = d("65045") }, "high"},
		{"high below close", func(v *events.Candle) { v.High = d("65049") }, "high"},
		{"negative volume", func(v *events.Candle) { v.Volume = neg }, "volume"},
		{"no open time", func(v *events.Candle) { v.OpenTime = time.Time{} }, "openTime"},
		{"close before open", func(v *events.Candle) { v.CloseTime = v.OpenTime.Add(-time.Second) }, "closeTime"},
		{"close equals open", func(v *events.Candle) { v.CloseTime = v.OpenTime }, "closeTime"},
		{"zero time", func(v *events.Candle) { v.Time = time.Time{} }, "datetime"},
	})
}

func TestValidateSignal(t *testing.T) {
	runValidation(t, validSignal, []vcase[events.Signal]{
		{"strength 0", func(v *events.Signal) { v.Strength = events.Decimal{} }, ""},
		{"strength 1", func(v *events.Signal) { v.Strength = d("1.000") }, ""},
		{"hold without price", func(v *events.Signal) { v.Action, v.Price = events.SignalHold, events.Decimal{} }, ""},
		{"empty strategy", func(v *events.Signal) { v.Strategy = "" }, "strategy"},
		{"dotted strategy", func(v *events.Signal) { v.Strategy = "mean.rev" }, "strategy"},
		{"empty exchange", func(v *events.Signal) { v.Exchange = "" }, "exchange"},
		{"empty symbol", func(v *events.Signal) { v.Symbol = "" }, "symbol"},
		{"no action", func(v *events.Signal) { v.Action = 0 }, "action"},
		{"bad action", func(v *events.Signal) { v.Action = 200 }, "action"},
		{"strength above 1", func(v *events.Signal) { v.Strength = d("1.0000000000000000001") }, "strength"},
		{"negative strength", func(v *events.Signal) { v.Strength = d("-0.1") }, "strength"},
		{"negative price", func(v *events.Signal) { v.Price = neg }, "price"},
		{"control char reason", func(v *events.Signal) { v.Reason = "bad\nreason" }, "reason"},
		{"zero time", func(v *events.Signal) { v.Time = time.Time{} }, "datetime"},
	})
}

func TestValidateOrder(t *testing.T) {
	market := func(v *events.Order) { v.OrdType, v.Price = events.OrdTypeMarket, events.Decimal{} }
	cancel := func(v *events.Order) {
		*v = events.Order{Action: events.OrderCancel, Exchange: "binance", Symbol: "BTCUSDT", ClOrdID: "c-2",
			OrigClOrdID: "c-1", Side: events.SideBuy, Time: t0}
	}
	runValidation(t, validOrder, []vcase[events.Order]{
		{"market", market, ""},
		{"market IOC", func(v *events.Order) { market(v); v.TimeInForce = events.TimeInForceIOC }, ""},
		{"no time in force", func(v *events.Order) { v.TimeInForce = 0 }, ""},
		{"no account", func(v *events.Order) { v.Account = "" }, ""},
		{"stop", func(v *events.Order) { v.OrdType, v.Price, v.StopPx = events.OrdTypeStop, events.Decimal{}, d("64000") }, ""},
		{"stop limit", func(v *events.Order) { v.OrdType, v.StopPx = events.OrdTypeStopLimit, d("64000") }, ""},
		{"replace", func(v *events.Order) { v.Action, v.ClOrdID, v.OrigClOrdID = events.OrderReplace, "c-2", "c-1" }, ""},
		{"cancel minimal", cancel, ""},
		{"cancel with qty", func(v *events.Order) { cancel(v); v.OrderQty = d("0.5") }, ""},
		{"cancel of a limit order", func(v *events.Order) { cancel(v); v.OrdType = events.OrdTypeLimit }, ""},
		{"cancel negative price", func(v *events.Order) { cancel(v); v.Price = neg }, "price"},
		{"no action", func(v *events.Order) { v.Action = 0 }, "action"},
		{"bad action", func(v *events.Order) { v.Action = 4 }, "action"},
		{"empty exchange", func(v *events.Order) { v.Exchange = "" }, "exchange"},
		{"bad symbol", func(v *events.Order) { v.Symbol = "BTC.USDT" }, "symbol"},
		{"no clOrdId", func(v *events.Order) { v.ClOrdID = "" }, "clOrdId"},
		{"clOrdId with space", func(v *events.Order) { v.ClOrdID = "c 1" }, "clOrdId"},
		{"new with origClOrdId", func(v *events.Order) { v.OrigClOrdID = "c-0" }, "origClOrdId"},
		{"cancel without origClOrdId", func(v *events.Order) { cancel(v); v.OrigClOrdID = "" }, "origClOrdId"},
		{"replace without origClOrdId", func(v *events.Order) { v.Action = events.OrderReplace }, "origClOrdId"},
		{"replace same id", func(v *events.Order) { v.Action, v.OrigClOrdID = events.OrderReplace, v.ClOrdID }, "origClOrdId"},
		{"no side", func(v *events.Order) { v.Side = 0 }, "side"},
		{"cancel no side", func(v *events.Order) { cancel(v); v.Side = 0 }, "side"},
		{"no ordType", func(v *events.Order) { v.OrdType = 0 }, "ordType"},
		{"bad ordType", func(v *events.Order) { v.OrdType = 99 }, "ordType"},
		{"bad tif", func(v *events.Order) { v.TimeInForce = 42 }, "timeInForce"},
		{"zero qty", func(v *events.Order) { v.OrderQty = events.Decimal{} }, "orderQty"},
		{"negative qty", func(v *events.Order) { v.OrderQty = neg }, "orderQty"},
		{"cancel negative qty", func(v *events.Order) { cancel(v); v.OrderQty = neg }, "orderQty"},
		{"limit without price", func(v *events.Order) { v.Price = events.Decimal{} }, "price"},
		{"limit negative price", func(v *events.Order) { v.Price = neg }, "price"},
		{"market with price", func(v *events.Order) { market(v); v.Price = d("1") }, "price"},
		{"stop without stopPx", func(v *events.Order) { v.OrdType, v.Price = events.OrdTypeStop, events.Decimal{} }, "stopPx"},
		{"limit with stopPx", func(v *events.Order) { v.StopPx = d("1") }, "stopPx"},
		{"account control char", func(v *events.Order) { v.Account = "a\tb" }, "account"},
		{"zero time", func(v *events.Order) { v.Time = time.Time{} }, "datetime"},
	})
}

func TestValidateExecutionReport(t *testing.T) {
	ack := func(v *events.ExecutionReport) {
		v.ExecType, v.OrdStatus = events.ExecTypeNew, events.OrdStatusNew
		v.LastPx, v.LastQty, v.CumQty, v.AvgPx = events.Decimal{}, events.Decimal{}, events.Decimal{}, events.Decimal{}
		v.LeavesQty = v.OrderQty
	}
	filled := func(v *events.ExecutionReport) {
		v.OrdStatus, v.LastQty, v.CumQty, v.LeavesQty = events.OrdStatusFilled, d("0.5"), d("0.5"), events.Decimal{}
	}
	canceled := func(v *events.ExecutionReport) {
		v.ExecType, v.OrdStatus, v.LastPx, v.LastQty, v.LeavesQty = events.ExecTypeCanceled, events.OrdStatusCanceled, events.Decimal{}, events.Decimal{}, events.Decimal{}
	}
	runValidation(t, validExec, []vcase[events.ExecutionReport]{
		{"ack", ack, ""},
		{"filled", filled, ""},
		{"canceled after partial fill", canceled, ""},
		{"expired", func(v *events.ExecutionReport) {
			canceled(v)
			v.ExecType, v.OrdStatus = events.ExecTypeExpired, events.OrdStatusExpired
		}, ""},
		{"done for day", func(v *events.ExecutionReport) {
			canceled(v)
			v.ExecType, v.OrdStatus = events.ExecTypeDoneForDay, events.OrdStatusDoneForDay
		}, ""},
		{"rejected", func(v *events.ExecutionReport) {
			ack(v)
			v.ExecType, v.OrdStatus, v.LeavesQty, v.RejectReason = events.ExecTypeRejected, events.OrdStatusRejected, events.Decimal{}, "insufficient balance"
		}, ""},
		{"replaced", func(v *events.ExecutionReport) {
			v.ExecType, v.OrigClOrdID, v.LastPx, v.LastQty, v.ClOrdID = events.ExecTypeReplaced, "c-1", events.Decimal{}, events.Decimal{}, "c-2"
		}, ""},
		{"market order without price", func(v *events.ExecutionReport) { v.OrdType, v.Price = events.OrdTypeMarket, events.Decimal{} }, ""},
		{"trade cancel", func(v *events.ExecutionReport) { v.ExecType = events.ExecTypeTradeCancel }, ""},
		{"empty exchange", func(v *events.ExecutionReport) { v.Exchange = "" }, "exchange"},
		{"bad symbol", func(v *events.ExecutionReport) { v.Symbol = "a b" }, "symbol"},
		{"no orderId", func(v *events.ExecutionReport) { v.OrderID = "" }, "orderId"},
		{"no clOrdId", func(v *events.ExecutionReport) { v.ClOrdID = "" }, "clOrdId"},
		{"no execId", func(v *events.ExecutionReport) { v.ExecID = "" }, "execId"},
		{"replaced without origClOrdId", func(v *events.ExecutionReport) {
			v.ExecType, v.LastPx, v.LastQty = events.ExecTypeReplaced, events.Decimal{}, events.Decimal{}
		}, "origClOrdId"},
		{"no execType", func(v *events.ExecutionReport) { v.ExecType = 0 }, "execType"},
		{"bad execType", func(v *events.ExecutionReport) { v.ExecType = 100 }, "execType"},
		{"no ordStatus", func(v *events.ExecutionReport) { v.OrdStatus = 0 }, "ordStatus"},
		{"bad ordStatus", func(v *events.ExecutionReport) { v.OrdStatus = 100 }, "ordStatus"},
		{"no side", func(v *events.ExecutionReport) { v.Side = 0 }, "side"},
		{"bad ordType", func(v *events.ExecutionReport) { v.OrdType = 77 }, "ordType"},
		{"bad tif", func(v *events.ExecutionReport) { v.TimeInForce = 77 }, "timeInForce"},
		{"zero orderQty", func(v *events.ExecutionReport) { v.OrderQty = events.Decimal{} }, "orderQty"},
		{"limit without price", func(v *events.ExecutionReport) { v.Price = events.Decimal{} }, "price"},
		{"negative lastPx", func(v *events.ExecutionReport) { v.LastPx = neg }, "lastPx"},
		{"negative cumQty", func(v *events.ExecutionReport) { v.CumQty = neg }, "cumQty"},
		{"negative leavesQty", func(v *events.ExecutionReport) { v.LeavesQty = neg }, "leavesQty"},
		{"negative avgPx", func(v *events.ExecutionReport) { v.AvgPx = neg }, "avgPx"},
		{"trade without lastQty", func(v *events.ExecutionReport) { v.LastQty = events.Decimal{} }, "lastQty"},
		{"trade without lastPx", func(v *events.ExecutionReport) { v.LastPx = events.Decimal{} }, "lastPx"},
		{"lastQty on non-trade", func(v *events.ExecutionReport) { ack(v); v.LastQty = d("0.1") }, "lastQty"},
		{"lastQty on canceled", func(v *events.ExecutionReport) { canceled(v); v.LastQty = d("0.1") }, "lastQty"},
		{"cumQty above orderQty", func(v *events.ExecutionReport) { v.CumQty, v.LeavesQty = d("0.6"), d("0") }, "cumQty"},
		{"fill without avgPx", func(v *events.ExecutionReport) { v.AvgPx = events.Decimal{} }, "avgPx"},
		{"qty sum broken", func(v *events.ExecutionReport) { v.LeavesQty = d("0.2") }, "leavesQty"},
		{"qty sum broken on ack", func(v *events.ExecutionReport) { ack(v); v.LeavesQty = d("0.4") }, "leavesQty"},
		{"canceled with leaves", func(v *events.ExecutionReport) { canceled(v); v.LeavesQty = d("0.3") }, "leavesQty"},
		{"rejected with leaves", func(v *events.ExecutionReport) {
			ack(v)
			v.ExecType, v.OrdStatus = events.ExecTypeRejected, events.OrdStatusRejected
		}, "leavesQty"},
		{"rejected with fills", func(v *events.ExecutionReport) { canceled(v); v.OrdStatus = events.OrdStatusRejected }, "cumQty"},
		{"filled but cum short", func(v *events.ExecutionReport) { v.OrdStatus = events.OrdStatusFilled }, "cumQty"},
		{"partially filled without fills", func(v *events.ExecutionReport) { ack(v); v.OrdStatus = events.OrdStatusPartiallyFilled }, "cumQty"},
		{"partially filled but complete", func(v *events.ExecutionReport) { filled(v); v.OrdStatus = events.OrdStatusPartiallyFilled }, "cumQty"},
		{"zero transactTime", func(v *events.ExecutionReport) { v.TransactTime = time.Time{} }, "transactTime"},
		{"reject reason control char", func(v *events.ExecutionReport) { v.RejectReason = "x\x07" }, "rejectReason"},
		{"account invalid utf8", func(v *events.ExecutionReport) { v.Account = "\xff" }, "account"},
	})
}

func TestValidatePosition(t *testing.T) {
	runValidation(t, validPosition, []vcase[events.Position]{
		{"long", func(v *events.Position) { v.Quantity = d("3") }, ""},
		{"flat", func(v *events.Position) { v.Quantity, v.AvgPrice = events.Decimal{}, events.Decimal{} }, ""},
		{"no account", func(v *events.Position) { v.Account = "" }, ""},
		{"positive pnl", func(v *events.Position) { v.RealizedPnL = d("100") }, ""},
		{"account control char", func(v *events.Position) { v.Account = "\x01" }, "account"},
		{"empty exchange", func(v *events.Position) { v.Exchange = "" }, "exchange"},
		{"empty symbol", func(v *events.Position) { v.Symbol = "" }, "symbol"},
		{"open without avg price", func(v *events.Position) { v.AvgPrice = events.Decimal{} }, "avgPrice"},
		{"negative avg price", func(v *events.Position) { v.AvgPrice = neg }, "avgPrice"},
		{"flat negative avg price", func(v *events.Position) { v.Quantity, v.AvgPrice = events.Decimal{}, neg }, "avgPrice"},
		{"zero time", func(v *events.Position) { v.Time = time.Time{} }, "datetime"},
	})
}

func TestValidateBalance(t *testing.T) {
	runValidation(t, validBalance, []vcase[events.Balance]{
		{"empty", func(v *events.Balance) {
			v.Free, v.Locked, v.Total = events.Decimal{}, events.Decimal{}, events.Decimal{}
		}, ""},
		{"trailing zeros", func(v *events.Balance) { v.Total = d("1.7500") }, ""},
		{"empty exchange", func(v *events.Balance) { v.Exchange = "" }, "exchange"},
		{"empty asset", func(v *events.Balance) { v.Asset = "" }, "asset"},
		{"asset wildcard", func(v *events.Balance) { v.Asset = "*" }, "asset"},
		{"negative free", func(v *events.Balance) { v.Free = neg }, "free"},
		{"negative locked", func(v *events.Balance) { v.Locked = neg }, "locked"},
		{"total mismatch", func(v *events.Balance) { v.Total = d("1.7500001") }, "total"},
		{"zero time", func(v *events.Balance) { v.Time = time.Time{} }, "datetime"},
	})
}

func TestRoutingAndPartitionKeys(t *testing.T) {
	tests := []struct {
		e              events.Event
		typ, key, part string
		occurred       time.Time
	}{
		{validTicker(), "tradebus.ticker.v1", "ticker.binance.BTCUSDT", "BTCUSDT", t0},
		{validTrade(), "tradebus.trade.v1", "trade.binance.BTCUSDT", "BTCUSDT", t0},
		{validBook(), "tradebus.book.v1", "book.binance.BTCUSDT", "BTCUSDT", t0},
		{validCandle(), "tradebus.candle.v1", "candle.binance.BTCUSDT.1m", "BTCUSDT", t0},
		{validSignal(), "tradebus.signal.v1", "signal.binance.BTCUSDT.meanrev", "BTCUSDT", t0},
		{validOrder(), "tradebus.order.v1", "order.binance.BTCUSDT", "BTCUSDT", t0},
		{validExec(), "tradebus.exec.v1", "exec.binance.BTCUSDT", "BTCUSDT", t0},
		{validPosition(), "tradebus.position.v1", "position.binance.BTCUSDT", "BTCUSDT", t0},
		{validBalance(), "tradebus.balance.v1", "balance.binance.BTC", "BTC", t0},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			if got := tc.e.EventType(); got != tc.typ {
				t.Errorf("EventType = %q, want %q", got, tc.typ)
			}
			if got := tc.e.RoutingKey(); got != tc.key {
				t.Errorf("RoutingKey = %q, want %q", got, tc.key)
			}
			if err := events.ValidateRoutingKey(tc.e.RoutingKey()); err != nil {
				t.Errorf("routing key invalid: %v", err)
			}
			if got := events.Kind(tc.e.RoutingKey()); "tradebus."+got+".v1" != tc.typ {
				t.Errorf("Kind = %q does not match type %q", got, tc.typ)
			}
			if got := tc.e.PartitionKey(); got != tc.part {
				t.Errorf("PartitionKey = %q, want %q", got, tc.part)
			}
			if got := tc.e.OccurredAt(); !got.Equal(tc.occurred) {
				t.Errorf("OccurredAt = %v, want %v", got, tc.occurred)
			}
		})
	}
}

// TestTimeYearBounds: the Unix-second bounds of the year check are the
// first and the last instant of years 1 and 9999.
func TestTimeYearBounds(t *testing.T) {
	for _, tc := range []struct {
		tm time.Time
		ok bool
	}{
		{time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), true}, // the zero time itself is "required"
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond), false},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(10000, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)), true}, // 9999 in UTC
		{time.Date(1, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)), false},    // year 0 in UTC
	} {
		tr := validTrade()
		tr.Time = tc.tm
		if err := tr.Validate(); (err == nil) != tc.ok {
			t.Errorf("%v: Validate = %v, want ok %v", tc.tm, err, tc.ok)
		}
	}
}
