package tradebustest_test

import (
	"context"
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus"
	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/tradebustest"
)

// The README's "Custom events" mirrors FundingRate, its registration and
// TestFundingRate; Example_customEvent runs the same type on a Service.

// FundingRate is a perpetual swap's funding rate: an event of the application's own.
type FundingRate struct {
	Exchange string         `json:"exchange"`
	Symbol   string         `json:"symbol"`
	Rate     events.Decimal `json:"rate"` // per funding interval, exact: "0.0001"
	Time     time.Time      `json:"datetime"`
}

func (FundingRate) EventType() string       { return "acme.funding.v1" } // own namespace, versioned
func (f FundingRate) PartitionKey() string  { return f.Symbol }          // the order that matters
func (f FundingRate) OccurredAt() time.Time { return f.Time }

// RoutingKey is "funding.<exchange>.<symbol>": a kind of its own first, then as the built-in types.
func (f FundingRate) RoutingKey() string { return events.Key("funding", f.Exchange, f.Symbol) }

// Validate checks every routing-key segment, so a valid event always has a valid key.
func (f FundingRate) Validate() error {
	for _, s := range [][2]string{{"exchange", f.Exchange}, {"symbol", f.Symbol}} {
		if err := events.ValidateSegment(s[1]); err != nil {
			return &events.ValidationError{Type: f.EventType(), Field: s[0], Value: s[1], Reason: err.Error()}
		}
	}
	if f.Time.IsZero() {
		return &events.ValidationError{Type: f.EventType(), Field: "datetime", Reason: "not set"}
	}
	return nil
}

// Register checks the naming rules at start-up and lets generic tools (events.Decode) decode it.
var _ = events.MustRegister[FundingRate]()

func TestFundingRate(t *testing.T) {
	h := tradebustest.New(t)
	err := subscriber.On(h.Group("carry"), "funding.*.BTCUSDT", func(ctx context.Context, f FundingRate) error {
		return nil
	})
	require.NoError(t, err)
	h.Publish(FundingRate{Exchange: "binance", Symbol: "BTCUSDT", Rate: events.MustDecimal("0.0001"), Time: time.Now()})
	h.WaitHandled()
	got := tradebustest.Consumed[FundingRate](h, "carry")
	require.Len(t, got, 1)
	require.Equal(t, "0.0001", got[0].Rate.String())
}

// TestFundingRateRules: an invalid FundingRate is refused before it is
// sent, naming the field; the registered type decodes through events.Decode.
func TestFundingRateRules(t *testing.T) {
	h := tradebustest.New(t)
	require.NoError(t, subscriber.On(h.Group("carry"), "funding.#", func(context.Context, FundingRate) error { return nil }))
	err := h.Publisher().Publish(context.Background(), FundingRate{Exchange: "binance", Symbol: "BTC USDT", Time: time.Now()})
	var ve *events.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "symbol", ve.Field)
	require.Empty(t, tradebustest.Published[FundingRate](h))

	body, err := events.Marshal(FundingRate{Exchange: "okx", Symbol: "ETHUSDT", Rate: events.MustDecimal("-0.00025"), Time: time.Now()})
	require.NoError(t, err)
	ev, err := events.Decode("acme.funding.v1", body)
	require.NoError(t, err)
	require.Equal(t, "funding.okx.ETHUSDT", ev.RoutingKey())
	require.ErrorIs(t, events.Register[FundingRate](), events.ErrRegister, "registered once")
}

// A custom event type on a Service: published and handled like any
// built-in one, under its own routing key.
func Example_customEvent() {
	ctx, stop := context.WithCancel(context.Background())
	svc, err := tradebus.NewService(ctx, "mem://", "carry", tradebus.WithSignals())
	if err != nil {
		log.Fatal(err)
	}
	err = subscriber.On(svc.Group(), "funding.*.BTCUSDT", func(ctx context.Context, f FundingRate) error {
		env, _ := events.EnvelopeFromContext(ctx)
		fmt.Println(env.Type, env.RoutingKey, f.Rate)
		stop()
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		<-svc.Running()
		_ = svc.Publisher().Publish(ctx, FundingRate{Exchange: "binance", Symbol: "BTCUSDT",
			Rate: events.MustDecimal("0.0001"), Time: time.Now()})
	}()
	fmt.Println("run:", svc.Run(ctx))
	// Output:
	// acme.funding.v1 funding.binance.BTCUSDT 0.0001
	// run: <nil>
}
