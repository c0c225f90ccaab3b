package main

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

// codecCase is one event for the codec suite and its decoder.
type codecCase struct {
	name   string
	event  events.Event
	decode func([]byte) error
}

func decodeAs[T events.Event]() func([]byte) error {
	return func(b []byte) error { _, err := events.Unmarshal[T](b); return err }
}

// codecCases are the hot market-data types: a Trade, a Ticker with every
// field set, and order books of 3 and 10 levels per side (the fixtures
// of the events package's BenchmarkCodecPerType).
func codecCases() []codecCase {
	d := events.MustDecimal
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
	book := events.OrderBook{
		Exchange: "binance", Symbol: "BTCUSDT", Kind: events.BookSnapshot, Sequence: 9001, Time: t0,
		Bids: []events.PriceLevel{{Price: d("64999.5"), Amount: d("1")}, {Price: d("64999"), Amount: d("2.5")}, {Price: d("64990"), Amount: d("3")}},
		Asks: []events.PriceLevel{{Price: d("65000.1"), Amount: d("0.5")}, {Price: d("65001"), Amount: d("1.2")}, {Price: d("65010"), Amount: d("4")}},
	}
	book10 := events.OrderBook{Exchange: "binance", Symbol: "BTCUSDT", Kind: events.BookSnapshot, Sequence: 48151623420, Time: t0}
	bid, ask, step, amt := d("64999.5"), d("65000.1"), d("0.5"), d("0.01234567")
	for range 10 {
		book10.Bids = append(book10.Bids, events.PriceLevel{Price: bid, Amount: amt})
		book10.Asks = append(book10.Asks, events.PriceLevel{Price: ask, Amount: amt.Add(step)})
		bid, ask, amt = bid.Sub(step), ask.Add(step), amt.Add(d("0.1"))
	}
	return []codecCase{
		{"Trade", sampleTrades(1)[0], decodeAs[events.Trade]()},
		{"Ticker", events.Ticker{
			Exchange: "binance", Symbol: "BTCUSDT",
			Bid: d("64999.5"), BidSize: d("1.25"), Ask: d("65000.1"), AskSize: d("0.5"),
			Last: d("65000"), High: d("66000"), Low: d("63000"),
			Volume: d("12345.678"), QuoteVolume: d("802469070.5"), Time: t0,
		}, decodeAs[events.Ticker]()},
		{"OrderBook", book, decodeAs[events.OrderBook]()},
		{"OrderBook10", book10, decodeAs[events.OrderBook]()},
	}
}

// codec measures encode+decode per core (one goroutine) of one event of
// each hot market-data type, with allocations: Marshal, which allocates
// the encoding, then Unmarshal; and AppendMarshal into a reused buffer,
// as a caller that owns its buffers can encode.
func codec(w io.Writer) error {
	for _, c := range codecCases() {
		data, err := events.Marshal(c.event)
		if err != nil {
			return err
		}
		if err := c.decode(data); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		res := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf, err := events.Marshal(c.event)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		printCodec(w, c.name, len(data), res)
		res = testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				var err error
				if buf, err = events.AppendMarshal(buf[:0], c.event); err != nil {
					b.Fatal(err)
				}
				if err := c.decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		printCodec(w, c.name+" AppendMarshal", len(data), res)
	}
	return nil
}

func printCodec(w io.Writer, name string, size int, res testing.BenchmarkResult) {
	ns := float64(res.T.Nanoseconds()) / float64(res.N) // NsPerOp rounds down to whole nanoseconds
	fmt.Fprintf(w, "codec (%s, %d bytes): encode+decode %.0f ns/event = %.0f events/s per core, %d allocs/event, %d B/event\n",
		name, size, ns, 1e9/ns, res.AllocsPerOp(), res.AllocedBytesPerOp())
}
