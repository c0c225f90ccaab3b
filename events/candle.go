package events

import (
	"encoding/json"
	"time"
)

// Candle is one OHLCV bar (CCXT OHLCV plus market and interval).
//
// Rules (Validate): Exchange and Symbol are routing-key segments; Interval
// is a CCXT timeframe: a positive number followed by s, m, h, d, w or M
// ("1m", "15m", "4h", "1d", "1w", "1M"); Open, High, Low and Close are
// positive with Low <= min(Open, Close) and High >= max(Open, Close);
// Volume is not negative; OpenTime is set; CloseTime, if set, is after
// OpenTime; Time is set.
type Candle struct {
	Exchange  string    `json:"exchange"`
	Symbol    string    `json:"symbol"`
	Interval  string    `json:"interval"` // CCXT timeframe, e.g. "1m"
	Open      Decimal   `json:"open"`
	High      Decimal   `json:"high"`
	Low       Decimal   `json:"low"`
	Close     Decimal   `json:"close"`
	Volume    Decimal   `json:"volume"`             // in the base asset
	OpenTime  time.Time `json:"openTime"`           // start of the bar
	CloseTime time.Time `json:"closeTime,omitzero"` // end of the bar, optional
	Time      time.Time `json:"datetime"`           // when this update was produced
}

// EventType returns TypeCandle.
func (Candle) EventType() string { return TypeCandle }

// RoutingKey returns "candle.<exchange>.<symbol>.<interval>".
func (k Candle) RoutingKey() string { return key4(KindCandle, k.Exchange, k.Symbol, k.Interval) }

// PartitionKey returns the symbol.
func (k Candle) PartitionKey() string { return k.Symbol }

// OccurredAt returns Time.
func (k Candle) OccurredAt() time.Time { return k.Time }

// Validate checks the rules in the type's doc; the error is a
// *ValidationError.
func (k Candle) Validate() error {
	c := checker{typ: TypeCandle}
	c.segment("exchange", k.Exchange)
	c.segment("symbol", k.Symbol)
	if c.err == nil && !validInterval(k.Interval) {
		c.fail("interval", k.Interval, "not a timeframe like 1m, 15m, 4h, 1d, 1w, 1M")
	}
	c.positive("open", k.Open)
	c.positive("high", k.High)
	c.positive("low", k.Low)
	c.positive("close", k.Close)
	if c.err == nil {
		switch {
		case k.Low.Cmp(k.Open) > 0:
			c.fail("low", k.Low.String(), "above open "+k.Open.String())
		case k.Low.Cmp(k.Close) > 0:
			c.fail("low", k.Low.String(), "above close "+k.Close.String())
		case k.High.Cmp(k.Open) < 0:
			c.fail("high", k.High.String(), "below open "+k.Open.String())
		case k.High.Cmp(k.Close) < 0:
			c.fail("high", k.High.String(), "below close "+k.Close.String())
		}
	}
	c.nonNegative("volume", k.Volume)
	c.time("openTime", k.OpenTime, true)
	c.time("closeTime", k.CloseTime, false)
	if c.err == nil && !k.CloseTime.IsZero() && !k.CloseTime.After(k.OpenTime) {
		c.fail("closeTime", k.CloseTime.UTC().Format(time.RFC3339Nano), "not after openTime")
	}
	c.time("datetime", k.Time, true)
	return c.result()
}

func validInterval(s string) bool {
	if len(s) < 2 || len(s) > 8 {
		return false
	}
	switch s[len(s)-1] {
	case 's', 'm', 'h', 'd', 'w', 'M':
	default:
		return false
	}
	n := s[:len(s)-1]
	if n[0] == '0' {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// MarshalJSON encodes k with its times in UTC.
func (k Candle) MarshalJSON() ([]byte, error) {
	type plain Candle
	p := plain(k)
	p.OpenTime = p.OpenTime.UTC()
	p.CloseTime = p.CloseTime.UTC()
	p.Time = p.Time.UTC()
	return json.Marshal(p)
}
