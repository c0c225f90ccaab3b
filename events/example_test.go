package events_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/tradebus/tradebus/events"
)

func Example() {
	trade := events.Trade{
		Exchange: "binance",
		Symbol:   "BTCUSDT",
		TradeID:  "1001",
		Price:    events.MustDecimal("65000.12"),
		Amount:   events.MustDecimal("0.000000000000000001"),
		Side:     events.SideBuy,
		Time:     time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC),
	}
	body, err := events.Marshal(trade)
	if err != nil {
		panic(err)
	}
	fmt.Println(trade.EventType(), trade.RoutingKey(), trade.PartitionKey())
	fmt.Println(string(body))

	back, err := events.Unmarshal[events.Trade](body)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.Amount, back.Time.Nanosecond())
	// Output:
	// tradebus.trade.v1 trade.binance.BTCUSDT BTCUSDT
	// {"exchange":"binance","symbol":"BTCUSDT","id":"1001","price":"65000.12","amount":"0.000000000000000001","side":"BUY","datetime":"2026-03-14T15:09:26.535897932Z"}
	// 0.000000000000000001 535897932
}

func ExampleValidationError() {
	report := events.ExecutionReport{
		Exchange: "binance", Symbol: "BTCUSDT", OrderID: "o-1", ClOrdID: "c-1", ExecID: "e-1",
		ExecType: events.ExecTypeTrade, OrdStatus: events.OrdStatusPartiallyFilled, Side: events.SideSell,
		OrderQty: events.MustDecimal("1"), LastPx: events.MustDecimal("100"), LastQty: events.MustDecimal("0.4"),
		CumQty: events.MustDecimal("0.4"), LeavesQty: events.MustDecimal("0.5"), AvgPx: events.MustDecimal("100"),
		TransactTime: time.Now(),
	}
	err := report.Validate()
	var ve *events.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(errors.Is(err, events.ErrValidation), ve.Field, ve.Value)
		fmt.Println(ve.Reason)
	}
	// Output:
	// true leavesQty 0.5
	// orderQty 1 != cumQty 0.4 + leavesQty 0.5
}

func ExampleParseDecimal() {
	price, _ := events.ParseDecimal("123456789.123456789012345678")
	fmt.Println(price)

	_, err := events.ParseDecimal("0.12345678901234567891") // 20 places
	fmt.Println(errors.Is(err, events.ErrDecimal))
	// Output:
	// 123456789.123456789012345678
	// true
}

func ExampleDecimal_Div() {
	cost := events.MustDecimal("100")
	qty := events.MustDecimal("3")
	if _, err := cost.Div(qty); err != nil {
		fmt.Println("inexact:", errors.Is(err, events.ErrDecimal))
	}
	avg, _ := cost.DivRound(qty, 8) // round on purpose, half to even
	fmt.Println(avg)
	// Output:
	// inexact: true
	// 33.33333333
}

func ExampleMatchPattern() {
	fmt.Println(events.MatchPattern("trade.*.BTCUSDT", "trade.binance.BTCUSDT"))
	fmt.Println(events.MatchPattern("trade.#", "trade"))
	fmt.Println(events.MatchPattern("candle.binance.#.1m", "candle.binance.ETHUSDT.1m"))
	fmt.Println(events.MatchPattern("trade.*", "trade.binance.BTCUSDT"))
	// Output:
	// true
	// true
	// true
	// false
}

func ExampleDecode() {
	body := []byte(`{"exchange":"kraken","symbol":"ETHUSD","kind":"DELTA","sequence":42,` +
		`"bids":[["3000.5","0"]],"asks":[["3001","2.25"]],"datetime":"2026-03-14T15:09:26Z"}`)
	e, err := events.Decode("tradebus.book.v1", body)
	if err != nil {
		panic(err)
	}
	book := e.(events.OrderBook)
	fmt.Println(e.RoutingKey(), book.Kind, book.Sequence, book.Asks[0].Price, book.Bids[0].Amount)
	// Output:
	// book.kraken.ETHUSD DELTA 42 3001 0
}

func ExampleSideFromFIX() {
	side, _ := events.SideFromFIX("2")
	status, _ := events.ParseOrdStatus("partially_filled")
	fmt.Println(side, side.FIXCode(), status, status.FIXCode())
	// Output:
	// SELL 2 PARTIALLY_FILLED 1
}

func ExampleAppendMarshal() {
	buf := make([]byte, 0, 512) // reused for every event
	for _, price := range []string{"65000.1", "65000.25"} {
		trade := events.Trade{
			Exchange: "binance", Symbol: "BTCUSDT", Price: events.MustDecimal(price), Amount: events.MustDecimal("0.5"),
			Side: events.SideSell, Time: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
		}
		var err error
		if buf, err = events.AppendMarshal(buf[:0], trade); err != nil {
			panic(err)
		}
		fmt.Println(string(buf)) // or copy it out: buf is overwritten by the next event
	}
	// Output:
	// {"exchange":"binance","symbol":"BTCUSDT","price":"65000.1","amount":"0.5","side":"SELL","datetime":"2026-03-14T15:09:26Z"}
	// {"exchange":"binance","symbol":"BTCUSDT","price":"65000.25","amount":"0.5","side":"SELL","datetime":"2026-03-14T15:09:26Z"}
}
