package events_test

import (
	"encoding/json"
	"testing"
	"time"
)

// floatTrade is the naive event a project without tradebus might send:
// float64 prices, plain strings, no validation. It is the baseline for
// BenchmarkEncode/Trade and BenchmarkDecode/Trade.
type floatTrade struct {
	Exchange     string    `json:"exchange"`
	Symbol       string    `json:"symbol"`
	TradeID      string    `json:"id,omitempty"`
	Price        float64   `json:"price"`
	Amount       float64   `json:"amount"`
	Side         string    `json:"side"`
	TakerOrMaker string    `json:"takerOrMaker,omitempty"`
	Time         time.Time `json:"datetime"`
}

func BenchmarkBaselineFloatTrade(b *testing.B) {
	ft := floatTrade{"binance", "BTCUSDT", "T-1001", 65000.12, 0.015, "BUY", "TAKER", t0}
	data, _ := json.Marshal(ft)
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(ft); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v floatTrade
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
