package events_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

type benchCase struct {
	name   string
	event  events.Event
	decode func([]byte) error
}

func dec[T events.Event]() func([]byte) error {
	return func(b []byte) error { _, err := events.Unmarshal[T](b); return err }
}

func benchCases() []benchCase {
	return []benchCase{
		{"Ticker", validTicker(), dec[events.Ticker]()},
		{"Trade", validTrade(), dec[events.Trade]()},
		{"OrderBook", validBook(), dec[events.OrderBook]()},
		{"OrderBook10", book10(), dec[events.OrderBook]()},
		{"Candle", validCandle(), dec[events.Candle]()},
		{"Signal", validSignal(), dec[events.Signal]()},
		{"Order", validOrder(), dec[events.Order]()},
		{"ExecutionReport", validExec(), dec[events.ExecutionReport]()},
		{"Position", validPosition(), dec[events.Position]()},
		{"Balance", validBalance(), dec[events.Balance]()},
	}
}

// BenchmarkEncode measures Marshal (validate + JSON) per event type.
func BenchmarkEncode(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0, _ := processCPU()
			for b.Loop() {
				if _, err := events.Marshal(bc.event); err != nil {
					b.Fatal(err)
				}
			}
			reportEventsPerSec(b, cpu0)
		})
	}
}

// BenchmarkDecode measures Unmarshal (JSON + validate) per event type.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchCases() {
		data, err := events.Marshal(bc.event)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			cpu0, _ := processCPU()
			for b.Loop() {
				if err := bc.decode(data); err != nil {
					b.Fatal(err)
				}
			}
			reportEventsPerSec(b, cpu0)
		})
	}
}

// reportEventsPerSec adds the events/s metric (one event per iteration)
// and, where the platform tells, cpu-ns/op: the process CPU time per
// iteration since cpu0 (taken just before the loop), garbage collection
// included. On the shared, noisy benchmark machine cpu-ns/op is the
// steadier number; events/s is wall time.
func reportEventsPerSec(b *testing.B, cpu0 time.Duration) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "events/s")
	}
	if cpu1, ok := processCPU(); ok && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// book10 is a realistic small snapshot: 10 levels per side, prices with
// 1 or 2 decimals, amounts with up to 8.
func book10() events.OrderBook {
	ob := events.OrderBook{Exchange: "binance", Symbol: "BTCUSDT", Kind: events.BookSnapshot, Sequence: 48151623420, Time: t0}
	bid, ask := d("64999.5"), d("65000.1")
	step, amt := d("0.5"), d("0.01234567")
	for range 10 {
		ob.Bids = append(ob.Bids, events.PriceLevel{Price: bid, Amount: amt})
		ob.Asks = append(ob.Asks, events.PriceLevel{Price: ask, Amount: amt.Add(step)})
		bid, ask, amt = bid.Sub(step), ask.Add(step), amt.Add(d("0.1"))
	}
	return ob
}

// BenchmarkCodecPerType is encode (Marshal) + decode (Unmarshal) of one
// event of each hot market-data type; events/s is per core (one
// goroutine). The goal is at least 1e6 events/s.
func BenchmarkCodecPerType(b *testing.B) {
	for _, bc := range benchCases()[:4] {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0, _ := processCPU()
			for b.Loop() {
				data, err := events.Marshal(bc.event)
				if err != nil {
					b.Fatal(err)
				}
				if err := bc.decode(data); err != nil {
					b.Fatal(err)
				}
			}
			reportEventsPerSec(b, cpu0)
		})
	}
}

// BenchmarkAppendMarshal is BenchmarkEncode into a reused buffer.
func BenchmarkAppendMarshal(b *testing.B) {
	for _, bc := range benchCases()[:4] {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			cpu0, _ := processCPU()
			for b.Loop() {
				var err error
				if buf, err = events.AppendMarshal(buf[:0], bc.event); err != nil {
					b.Fatal(err)
				}
			}
			reportEventsPerSec(b, cpu0)
		})
	}
}

// BenchmarkCodecPerTypeAppend is BenchmarkCodecPerType encoding into a
// reused buffer (AppendMarshal), as a caller that owns its buffers can.
func BenchmarkCodecPerTypeAppend(b *testing.B) {
	for _, bc := range benchCases()[:4] {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			cpu0, _ := processCPU()
			for b.Loop() {
				var err error
				if buf, err = events.AppendMarshal(buf[:0], bc.event); err != nil {
					b.Fatal(err)
				}
				if err := bc.decode(buf); err != nil {
					b.Fatal(err)
				}
			}
			reportEventsPerSec(b, cpu0)
		})
	}
}

// BenchmarkCodecRoundTrip is encode + decode of a Trade, the hot path of
// one market-data event through publisher and subscriber.
func BenchmarkCodecRoundTrip(b *testing.B) {
	tr := validTrade()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			data, err := events.Marshal(tr)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := events.Unmarshal[events.Trade](data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkValidate shows that validating a valid event does not allocate.
func BenchmarkValidate(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.event.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecimal(b *testing.B) {
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := events.ParseDecimal("65000.12345678"); err != nil {
				b.Fatal(err)
			}
		}
	})
	x, y := events.MustDecimal("65000.12345678"), events.MustDecimal("0.015")
	b.Run("String", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = x.String()
		}
	})
	b.Run("Add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = x.Add(y)
		}
	})
	b.Run("Mul", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := x.Mul(y); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Div", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := x.Div(y); err == nil {
				b.Fatal("exact?")
			}
		}
	})
	b.Run("DivRound", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := x.DivRound(y, 8); err != nil {
				b.Fatal(err)
			}
		}
	})
}
