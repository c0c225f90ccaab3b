package events_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

// Three versions of a test type: v1 has a price in cents, v2 a Decimal
// price, v3 adds a currency.
type quoteV1 struct {
	Symbol string `json:"symbol"`
	Cents  int64  `json:"cents"`
}

func (quoteV1) EventType() string      { return "test.quote.v1" }
func (q quoteV1) RoutingKey() string   { return "quote.x." + q.Symbol }
func (q quoteV1) PartitionKey() string { return q.Symbol }
func (quoteV1) OccurredAt() time.Time  { return time.Time{} }
func (q quoteV1) Validate() error      { return events.ValidateSegment(q.Symbol) }

type quoteV2 struct {
	Symbol string         `json:"symbol"`
	Price  events.Decimal `json:"price"`
}

func (quoteV2) EventType() string      { return "test.quote.v2" }
func (q quoteV2) RoutingKey() string   { return "quote.x." + q.Symbol }
func (q quoteV2) PartitionKey() string { return q.Symbol }
func (quoteV2) OccurredAt() time.Time  { return time.Time{} }
func (q quoteV2) Validate() error      { return events.ValidateSegment(q.Symbol) }

type quoteV3 struct {
	Symbol   string         `json:"symbol"`
	Price    events.Decimal `json:"price"`
	Currency string         `json:"currency"`
}

func (quoteV3) EventType() string      { return "test.quote.v3" }
func (q quoteV3) RoutingKey() string   { return "quote.x." + q.Symbol }
func (q quoteV3) PartitionKey() string { return q.Symbol }
func (quoteV3) OccurredAt() time.Time  { return time.Time{} }
func (q quoteV3) Validate() error {
	if q.Currency == "" {
		return errors.New("no currency")
	}
	return events.ValidateSegment(q.Symbol)
}

func init() {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(events.RegisterUpcast(func(v1 quoteV1) (quoteV2, error) {
		p, err := events.NewDecimalFromScaled(v1.Cents, 2)
		return quoteV2{Symbol: v1.Symbol, Price: p}, err
	}))
	must(events.RegisterUpcast(func(v2 quoteV2) (quoteV3, error) {
		cur := "USD"
		if v2.Symbol == "NOCCY" {
			cur = "" // an upcast whose result is invalid
		}
		return quoteV3{Symbol: v2.Symbol, Price: v2.Price, Currency: cur}, nil
	}))
}

func TestUpcastChain(t *testing.T) {
	v1, err := events.Marshal(quoteV1{Symbol: "AAPL", Cents: 19012})
	if err != nil {
		t.Fatal(err)
	}
	v3, err := events.UnmarshalAs[quoteV3]("test.quote.v1", v1)
	if err != nil {
		t.Fatal(err)
	}
	if v3.Price.String() != "190.12" || v3.Currency != "USD" || v3.Symbol != "AAPL" {
		t.Fatalf("v1 read as v3: %+v", v3)
	}
	v2, err := events.UnmarshalAs[quoteV2]("test.quote.v1", v1)
	if err != nil || v2.Price.String() != "190.12" {
		t.Fatalf("v1 read as v2: %+v %v", v2, err)
	}
	// Same type: plain decoding.
	if same, err := events.UnmarshalAs[quoteV1]("test.quote.v1", v1); err != nil || same.Cents != 19012 {
		t.Fatalf("v1 as v1: %+v %v", same, err)
	}
	// No way down, no way across.
	raw3, _ := events.Marshal(v3)
	if _, err := events.UnmarshalAs[quoteV1]("test.quote.v3", raw3); !errors.Is(err, events.ErrNoUpcast) {
		t.Fatalf("v3 as v1: %v, want ErrNoUpcast", err)
	}
	trade, _ := events.Marshal(events.Trade{})
	if _, err := events.UnmarshalAs[quoteV2](events.TypeTrade, trade); !errors.Is(err, events.ErrNoUpcast) {
		t.Fatalf("trade as quote: %v", err)
	}
	// The converted event is validated.
	bad, _ := events.Marshal(quoteV1{Symbol: "NOCCY", Cents: 1})
	if _, err := events.UnmarshalAs[quoteV3]("test.quote.v1", bad); err == nil || errors.Is(err, events.ErrNoUpcast) {
		t.Fatalf("invalid upcast result: %v", err)
	}
}

func TestRegisterUpcastRules(t *testing.T) {
	for name, err := range map[string]error{
		"down":     events.RegisterUpcast(func(quoteV2) (quoteV1, error) { return quoteV1{}, nil }),
		"same":     events.RegisterUpcast(func(quoteV2) (quoteV2, error) { return quoteV2{}, nil }),
		"across":   events.RegisterUpcast(func(events.Trade) (quoteV2, error) { return quoteV2{}, nil }),
		"twice":    events.RegisterUpcast(func(quoteV1) (quoteV3, error) { return quoteV3{}, nil }),
		"nil func": events.RegisterUpcast[quoteV1, quoteV3](nil),
	} {
		if !errors.Is(err, events.ErrRegister) {
			t.Errorf("%s: %v, want ErrRegister", name, err)
		}
	}
}

// The compatible change of the README: a field added by a newer writer is
// ignored by an older reader, on the fast codec's types too.
func TestOlderReaderIgnoresAddedField(t *testing.T) {
	b, err := events.Marshal(events.Trade{Exchange: "binance", Symbol: "BTCUSDT", TradeID: "1",
		Price: events.MustDecimal("1"), Amount: events.MustDecimal("2"), Side: events.SideBuy, Time: time.Unix(1, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	newer := append(b[:len(b)-1:len(b)-1], []byte(`,"venueFee":"0.1"}`)...)
	tr, err := events.Unmarshal[events.Trade](newer)
	if err != nil {
		t.Fatalf("older reader of a newer Trade: %v", err)
	}
	if tr.Amount.String() != "2" {
		t.Fatalf("got %+v", tr)
	}
	q, err := events.Unmarshal[quoteV3]([]byte(`{"symbol":"AAPL","price":"1","currency":"USD","venue":"x"}`))
	if err != nil || q.Currency != "USD" {
		t.Fatalf("%+v %v", q, err)
	}
}
