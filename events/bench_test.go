package events_test

import (
	"testing"

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
			for b.Loop() {
				if _, err := events.Marshal(bc.event); err != nil {
					b.Fatal(err)
				}
			}
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
			for b.Loop() {
				if err := bc.decode(data); err != nil {
					b.Fatal(err)
				}
			}
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
