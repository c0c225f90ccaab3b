package tradebustest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/tradebustest"
)

// FundingRateV2 is the next version of FundingRate: it states the funding
// interval, which v1 left implicit (8 hours on every venue v1 was used on).
type FundingRateV2 struct {
	Exchange      string         `json:"exchange"`
	Symbol        string         `json:"symbol"`
	Rate          events.Decimal `json:"rate"`
	IntervalHours int            `json:"intervalHours"`
	Time          time.Time      `json:"datetime"`
}

func (FundingRateV2) EventType() string       { return "acme.funding.v2" }
func (f FundingRateV2) PartitionKey() string  { return f.Symbol }
func (f FundingRateV2) OccurredAt() time.Time { return f.Time }
func (f FundingRateV2) RoutingKey() string    { return events.Key("funding", f.Exchange, f.Symbol) }
func (f FundingRateV2) Validate() error {
	if f.IntervalHours < 1 || f.IntervalHours > 24 {
		return &events.ValidationError{Type: f.EventType(), Field: "intervalHours", Value: strconv.Itoa(f.IntervalHours), Reason: "want 1 to 24"}
	}
	return FundingRate{Exchange: f.Exchange, Symbol: f.Symbol, Rate: f.Rate, Time: f.Time}.Validate()
}

var _ = events.MustRegister[FundingRateV2]()

func init() {
	// History written as v1 is read as v2.
	if err := events.RegisterUpcast(func(v1 FundingRate) (FundingRateV2, error) {
		return FundingRateV2{Exchange: v1.Exchange, Symbol: v1.Symbol, Rate: v1.Rate, IntervalHours: 8, Time: v1.Time}, nil
	}); err != nil {
		panic(err)
	}
}

// A v2 handler receives v1 events converted; without the upcast a v1 event
// would be a type mismatch and dead-lettered.
func TestV2HandlerReadsV1History(t *testing.T) {
	h := tradebustest.New(t)
	require.NoError(t, subscriber.On(h.Group("carry"), "funding.#", func(context.Context, FundingRateV2) error { return nil }))
	now := time.Now().UTC()
	h.Publish(FundingRate{Exchange: "binance", Symbol: "BTCUSDT", Rate: events.MustDecimal("0.0001"), Time: now})
	h.Publish(FundingRateV2{Exchange: "okx", Symbol: "BTCUSDT", Rate: events.MustDecimal("0.0002"), IntervalHours: 4, Time: now})
	h.WaitHandled()
	got := tradebustest.Consumed[FundingRateV2](h, "carry")
	require.Len(t, got, 2)
	require.Equal(t, FundingRateV2{Exchange: "binance", Symbol: "BTCUSDT", Rate: events.MustDecimal("0.0001"), IntervalHours: 8, Time: now}, got[0])
	require.Equal(t, 4, got[1].IntervalHours)
	require.Empty(t, tradebustest.DeadLettered[FundingRateV2](h, "carry"))
}
