package events_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

// liquidation is an application's own event type, as the package doc
// describes it.
type liquidation struct {
	Exchange string         `json:"exchange"`
	Symbol   string         `json:"symbol"`
	Price    events.Decimal `json:"price"`
	Time     time.Time      `json:"datetime"`
}

func (liquidation) EventType() string       { return "acme.liquidation.v1" }
func (l liquidation) RoutingKey() string    { return events.Key("liquidation", l.Exchange, l.Symbol) }
func (l liquidation) PartitionKey() string  { return l.Symbol }
func (l liquidation) OccurredAt() time.Time { return l.Time }
func (l liquidation) Validate() error {
	for field, v := range map[string]string{"exchange": l.Exchange, "symbol": l.Symbol} {
		if err := events.ValidateSegment(v); err != nil {
			return &events.ValidationError{Type: l.EventType(), Field: field, Value: v, Reason: err.Error()}
		}
	}
	return nil
}

// Types that break a rule Register checks.
type (
	reservedName struct{ liquidation }
	noVersion    struct{ liquidation }
	builtinKind  struct{ liquidation }
	shortName    struct{ liquidation }
)

func (reservedName) EventType() string { return "tradebus.liquidation.v1" }
func (noVersion) EventType() string    { return "acme.liquidation.latest" }
func (shortName) EventType() string    { return "liquidation.v1" }
func (builtinKind) EventType() string  { return "acme.mytrade.v1" }
func (b builtinKind) RoutingKey() string {
	return events.Key(events.KindTrade, b.Exchange, b.Symbol)
}

func TestRegisterCustomType(t *testing.T) {
	const name = "acme.liquidation.v1"
	if _, err := events.Decode(name, []byte(`{}`)); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("before Register: %v", err)
	}
	if err := events.Register[liquidation](); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { events.Unregister(name) })
	if err := events.Register[liquidation](); !errors.Is(err, events.ErrRegister) {
		t.Fatalf("second Register: %v, want ErrRegister", err)
	}
	if !slices.Contains(events.Types(), name) {
		t.Fatalf("Types() = %v lacks %s", events.Types(), name)
	}
	in := liquidation{Exchange: "binance", Symbol: "BTCUSDT", Price: events.MustDecimal("0.000000000000000001"),
		Time: time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)}
	body, err := events.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(name, body)
	if err != nil {
		t.Fatal(err)
	}
	if got != in {
		t.Fatalf("Decode = %#v, want %#v", got, in)
	}
	// Validation runs for registered types as for built-in ones.
	_, err = events.Decode(name, []byte(`{"exchange":"bin ance","symbol":"BTCUSDT","price":"1","datetime":"2026-03-14T15:09:26Z"}`))
	var ve *events.ValidationError
	if !errors.As(err, &ve) || ve.Field != "exchange" {
		t.Fatalf("invalid body: %v, want a ValidationError on exchange", err)
	}
}

func TestRegisterRejects(t *testing.T) {
	for name, register := range map[string]func() error{
		"reserved namespace": events.Register[reservedName],
		"no version":         events.Register[noVersion],
		"two segments":       events.Register[shortName],
		"built-in kind":      events.Register[builtinKind],
		"built-in type":      events.Register[events.Trade],
		"interface":          events.Register[events.Event],
	} {
		if err := register(); !errors.Is(err, events.ErrRegister) {
			t.Errorf("%s: Register = %v, want ErrRegister", name, err)
		}
	}
	for _, typ := range events.Types() {
		if typ == "tradebus.liquidation.v1" || typ == "acme.liquidation.latest" || typ == "liquidation.v1" || typ == "acme.mytrade.v1" {
			t.Errorf("rejected type %s was registered", typ)
		}
	}
}

func TestMustRegisterPanics(t *testing.T) {
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, events.ErrRegister) {
			t.Fatalf("recover() = %v, want an ErrRegister error", err)
		}
	}()
	events.MustRegister[reservedName]()
}
