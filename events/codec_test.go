package events_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

var (
	decimalType = reflect.TypeFor[events.Decimal]()
	timeType    = reflect.TypeFor[time.Time]()
)

// sameEvent compares events by value: decimals with Equal (1.5 == 1.50),
// times with Equal (same instant), everything else exactly.
func sameEvent(a, b any) bool { return sameValue(reflect.ValueOf(a), reflect.ValueOf(b)) }

func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch {
	case a.Type() == decimalType:
		return a.Interface().(events.Decimal).Equal(b.Interface().(events.Decimal))
	case a.Type() == timeType:
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	default:
		return a.Equal(b)
	}
}

func TestGoldenTradeJSON(t *testing.T) {
	tr := validTrade()
	tr.Price = d("123456789.123456789012345678")
	tr.Amount = d("0.000000000000000001")
	tr.Time = time.Date(2026, 3, 14, 16, 9, 26, 535897932, time.FixedZone("CET", 3600))
	got, err := events.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"exchange":"binance","symbol":"BTCUSDT","id":"T-1001",` +
		`"price":"123456789.123456789012345678","amount":"0.000000000000000001",` +
		`"side":"BUY","takerOrMaker":"TAKER","datetime":"2026-03-14T15:09:26.535897932Z"}`
	if string(got) != want {
		t.Fatalf("JSON shape changed:\n got %s\nwant %s", got, want)
	}
	back, err := events.Unmarshal[events.Trade](got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Price.String() != "123456789.123456789012345678" || back.Amount.String() != "0.000000000000000001" {
		t.Fatalf("decimals not exact: %s %s", back.Price, back.Amount)
	}
	if !back.Time.Equal(tr.Time) || back.Time.Nanosecond() != 535897932 || back.Time.Location() != time.UTC {
		t.Fatalf("time = %v", back.Time)
	}
}

func TestGoldenJSONShapes(t *testing.T) {
	// Optional fields are omitted when empty; order books are CCXT pairs.
	tests := []struct {
		e    events.Event
		want string
	}{
		{events.Ticker{Exchange: "x", Symbol: "S", Last: d("1.5"), Time: t0},
			`{"exchange":"x","symbol":"S","last":"1.5","datetime":"2026-03-14T15:09:26.535897932Z"}`},
		{events.OrderBook{Exchange: "x", Symbol: "S", Kind: events.BookDelta, Sequence: 7,
			Bids: []events.PriceLevel{{Price: d("2"), Amount: d("0")}}, Time: t0},
			`{"exchange":"x","symbol":"S","kind":"DELTA","sequence":7,"bids":[["2","0"]],"asks":[],"datetime":"2026-03-14T15:09:26.535897932Z"}`},
		{validExec(),
			`{"exchange":"binance","symbol":"BTCUSDT","orderId":"o-77","clOrdId":"c-1","execId":"e-3","execType":"TRADE",` +
				`"ordStatus":"PARTIALLY_FILLED","side":"BUY","ordType":"LIMIT","timeInForce":"GTC","orderQty":"0.5",` +
				`"price":"65000","lastPx":"64999.5","lastQty":"0.2","cumQty":"0.2","leavesQty":"0.3","avgPx":"64999.5",` +
				`"transactTime":"2026-03-14T15:09:26.535897932Z","account":"acct-1"}`},
	}
	for _, tc := range tests {
		got, err := events.Marshal(tc.e)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.e.EventType(), got, tc.want)
		}
	}
}

// roundTrip decodes e's encoding through the registry and checks equality.
func roundTrip(t *testing.T, e events.Event) {
	t.Helper()
	b, err := events.Marshal(e)
	if err != nil {
		t.Fatalf("Marshal %s: %v", e.EventType(), err)
	}
	back, err := events.Decode(e.EventType(), b)
	if err != nil {
		t.Fatalf("Decode %s: %v\n%s", e.EventType(), err, b)
	}
	if !sameEvent(e, back) {
		t.Fatalf("round trip changed the event:\n in  %+v\n out %+v", e, back)
	}
	b2, err := events.Marshal(back)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("re-encoding differs:\n%s\n%s (%v)", b, b2, err)
	}
}

func TestRoundTripFixtures(t *testing.T) {
	for _, e := range allValid() {
		roundTrip(t, e)
	}
}

// randDecimal returns a random positive decimal with up to 19 places.
func randDecimal(r *rand.Rand) events.Decimal {
	v, err := events.NewDecimalFromScaled(r.Int64N(1<<62)+1, uint8(r.IntN(20)))
	if err != nil {
		panic(err)
	}
	return v
}

func randTime(r *rand.Rand) time.Time {
	// Any instant in years 1970..2200 with ns precision, in a random zone.
	t := time.Unix(r.Int64N(7258118400), r.Int64N(1e9))
	return t.In(time.FixedZone("z", (r.IntN(27)-13)*3600))
}

func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		lo, hi := randDecimal(r), randDecimal(r)
		if lo.Cmp(hi) > 0 {
			lo, hi = hi, lo
		}
		tr := validTrade()
		tr.Price, tr.Amount, tr.Time = randDecimal(r), randDecimal(r), randTime(r)
		tr.TradeID = fmt.Sprint(r.Uint64())
		tr.Side = events.Side(1 + r.IntN(2))
		roundTrip(t, tr)

		tk := validTicker()
		tk.Bid, tk.Ask, tk.Low, tk.High, tk.Last = lo, hi, lo, hi, hi
		tk.BidSize, tk.Volume, tk.Time = randDecimal(r), randDecimal(r), randTime(r)
		roundTrip(t, tk)

		b := validBook()
		b.Kind = events.BookDelta
		b.Sequence = r.Uint64()
		b.Bids = b.Bids[:0]
		p := hi
		for range r.IntN(30) {
			p = p.Sub(lo.Abs().Round(3)).Sub(d("0.001"))
			if !p.IsPositive() {
				break
			}
			b.Bids = append(b.Bids, events.PriceLevel{Price: p, Amount: randDecimal(r).Round(uint8(r.IntN(5)))})
		}
		b.Time = randTime(r)
		roundTrip(t, b)

		ex := validExec()
		ex.OrderQty = randDecimal(r)
		ex.CumQty = ex.OrderQty.Round(uint8(r.IntN(3)))
		if ex.CumQty.Cmp(ex.OrderQty) > 0 {
			ex.CumQty = ex.CumQty.Sub(d("1"))
		}
		ex.LastQty = ex.CumQty
		ex.LeavesQty = ex.OrderQty.Sub(ex.CumQty)
		switch {
		case ex.CumQty.Sign() <= 0:
			continue
		case ex.LeavesQty.IsZero():
			ex.OrdStatus = events.OrdStatusFilled
		}
		ex.TransactTime = randTime(r)
		if err := ex.Validate(); err != nil {
			t.Fatalf("iteration %d: generator made an invalid report: %v", i, err)
		}
		roundTrip(t, ex)
	}
}

func TestTimePrecisionAndUTC(t *testing.T) {
	for _, ns := range []int{0, 1, 10, 999999999, 123456789, 100000000} {
		tr := validTrade()
		tr.Time = time.Date(2026, 1, 2, 3, 4, 5, ns, time.FixedZone("NST", -(3*3600+30*60)))
		b, err := events.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`Z"`)) {
			t.Errorf("time not in UTC: %s", b)
		}
		back, err := events.Unmarshal[events.Trade](b)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Time.Equal(tr.Time) || back.Time.Nanosecond() != ns {
			t.Errorf("ns %d: got %v", ns, back.Time)
		}
	}
	// Offsets written by other producers are accepted.
	in := `{"exchange":"x","symbol":"S","price":"1","amount":"1","side":"SELL","datetime":"2026-01-02T03:04:05.000000001+05:30"}`
	tr, err := events.Unmarshal[events.Trade]([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 1, 21, 34, 5, 1, time.UTC); !tr.Time.Equal(want) {
		t.Errorf("time = %v, want %v", tr.Time, want)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good, _ := events.Marshal(validTrade())
	replace := func(old, new string) []byte { return []byte(strings.Replace(string(good), old, new, 1)) }
	tests := []struct {
		name  string
		in    []byte
		want  error // sentinel the error must match
		cause error // optional second sentinel
		field string
	}{
		{"malformed", []byte(`{"exchange":`), events.ErrDecode, nil, ""},
		{"not an object", []byte(`[1,2]`), events.ErrDecode, nil, ""},
		{"trailing garbage", append(append([]byte{}, good...), '}'), events.ErrDecode, nil, ""},
		{"empty", nil, events.ErrDecode, nil, ""},
		{"price as number", replace(`"price":"65000.12"`, `"price":65000.12`), events.ErrDecode, events.ErrDecimal, ""},
		{"price 20 places", replace(`"price":"65000.12"`, `"price":"0.12345678901234567891"`), events.ErrDecode, events.ErrDecimal, ""},
		{"unknown side", replace(`"side":"BUY"`, `"side":"LONG"`), events.ErrDecode, events.ErrInvalidEnum, ""},
		{"bad time", replace(`"datetime":"`, `"datetime":"x`), events.ErrDecode, nil, ""},
		{"negative price", replace(`"price":"65000.12"`, `"price":"-1"`), events.ErrValidation, nil, "price"},
		{"missing symbol", replace(`"symbol":"BTCUSDT",`, ``), events.ErrValidation, nil, "symbol"},
		{"missing side", replace(`"side":"BUY",`, ``), events.ErrValidation, nil, "side"},
		{"null", []byte(`null`), events.ErrValidation, nil, "exchange"},
		{"empty object", []byte(`{}`), events.ErrValidation, nil, "exchange"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := events.Unmarshal[events.Trade](tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("err = %v, want cause %v", err, tc.cause)
			}
			if !sameEvent(v, events.Trade{}) {
				t.Fatalf("non-zero value returned with error: %+v", v)
			}
			if tc.want == events.ErrDecode {
				var de *events.DecodeError
				if !errors.As(err, &de) || de.Type != events.TypeTrade || de.Err == nil {
					t.Fatalf("not a *DecodeError for %s: %#v", events.TypeTrade, err)
				}
				if errors.Is(err, events.ErrValidation) {
					t.Fatal("decode error also matches ErrValidation")
				}
			}
			if tc.field != "" {
				var ve *events.ValidationError
				if !errors.As(err, &ve) || ve.Field != tc.field {
					t.Fatalf("want field %q, got %v", tc.field, err)
				}
			}
		})
	}
}

func TestUnmarshalIgnoresUnknownFields(t *testing.T) {
	in := `{"exchange":"x","symbol":"S","price":"1","amount":"2","side":"buy","datetime":"2026-01-02T03:04:05Z","fee":{"cost":"0.1"},"info":[1,2]}`
	tr, err := events.Unmarshal[events.Trade]([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Side != events.SideBuy || !tr.Amount.Equal(d("2")) {
		t.Fatalf("%+v", tr)
	}
}

func TestUnmarshalPointerType(t *testing.T) {
	b, _ := events.Marshal(validOrder())
	p, err := events.Unmarshal[*events.Order](b)
	if err != nil || p == nil || p.ClOrdID != "c-1" {
		t.Fatalf("%v %v", p, err)
	}
	p, err = events.Unmarshal[*events.Order]([]byte("null"))
	var de *events.DecodeError
	if p != nil || !errors.As(err, &de) || de.Type != events.TypeOrder {
		t.Fatalf("null into pointer: %v %v", p, err)
	}
	// Marshal of a pointer event works too.
	if b2, err := events.Marshal(p); err == nil {
		t.Fatalf("Marshal(nil *Order) = %s", b2)
	}
}

func TestMarshalNil(t *testing.T) {
	if _, err := events.Marshal(nil); !errors.Is(err, events.ErrValidation) {
		t.Fatalf("Marshal(nil) = %v", err)
	}
}

func TestDecodeRegistry(t *testing.T) {
	want := []string{
		events.TypeBalance, events.TypeCandle, events.TypeExecutionReport, events.TypeOrderBook, events.TypeOrder,
		events.TypePosition, events.TypeSignal, events.TypeTicker, events.TypeTrade,
	}
	slices.Sort(want)
	if got := events.Types(); !slices.Equal(got, want) {
		t.Fatalf("Types = %v, want %v", got, want)
	}
	for _, e := range allValid() {
		b, err := events.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.Decode(e.EventType(), b)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(e) {
			t.Errorf("Decode(%s) returned %T, want %T", e.EventType(), got, e)
		}
		// Decoding the body as another type never panics, and a failure
		// is always a classified (permanent) error.
		for _, other := range events.Types() {
			if _, err := events.Decode(other, b); err != nil &&
				!errors.Is(err, events.ErrDecode) && !errors.Is(err, events.ErrValidation) {
				t.Errorf("Decode(%s, %s body): unclassified error %v", other, e.EventType(), err)
			}
		}
	}
	_, err := events.Decode("tradebus.trade.v2", []byte(`{}`))
	if !errors.Is(err, events.ErrUnknownType) || !strings.Contains(err.Error(), "tradebus.trade.v2") {
		t.Fatalf("unknown type: %v", err)
	}
}
