package events_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tradebus/tradebus/events"
)

// fuzzDecoder checks the decoder of T: it never panics; every error is a
// classified permanent error (ErrDecode or ErrValidation); and whatever it
// accepts re-encodes, decodes again to an equal value, and re-encodes to
// the same bytes.
func fuzzDecoder[T events.Event](f *testing.F, seeds ...events.Event) {
	for _, s := range seeds {
		b, err := events.Marshal(s)
		if err != nil {
			f.Fatalf("seed: %v", err)
		}
		f.Add(b)
		// Mutated seeds: a number for a decimal, a shifted time zone,
		// truncated input, lower-case enums.
		f.Add(bytes.Replace(b, []byte(`":"`), []byte(`":`), 1))
		f.Add(bytes.Replace(b, []byte(`Z"`), []byte(`+14:00"`), 1))
		f.Add(b[:len(b)/2])
		f.Add(bytes.ToLower(b))
	}
	f.Add([]byte(`null`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := events.Unmarshal[T](data)
		if err != nil {
			if !errors.Is(err, events.ErrDecode) && !errors.Is(err, events.ErrValidation) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		b1, err := events.Marshal(v)
		if err != nil {
			t.Fatalf("accepted event does not encode: %v\ninput %s", err, data)
		}
		v2, err := events.Unmarshal[T](b1)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, b1)
		}
		if !sameEvent(v, v2) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", v, v2)
		}
		b2, err := events.Marshal(v2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%s\n%s (%v)", b1, b2, err)
		}
	})
}

func FuzzUnmarshalTicker(f *testing.F) { fuzzDecoder[events.Ticker](f, validTicker()) }

func FuzzUnmarshalTrade(f *testing.F) { fuzzDecoder[events.Trade](f, validTrade()) }

func FuzzUnmarshalOrderBook(f *testing.F) {
	fuzzDecoder[events.OrderBook](f, validBook(), validDelta())
}

func FuzzUnmarshalCandle(f *testing.F) { fuzzDecoder[events.Candle](f, validCandle()) }

func FuzzUnmarshalSignal(f *testing.F) { fuzzDecoder[events.Signal](f, validSignal()) }

func FuzzUnmarshalOrder(f *testing.F) { fuzzDecoder[events.Order](f, validOrder()) }

func FuzzUnmarshalExecutionReport(f *testing.F) {
	fuzzDecoder[events.ExecutionReport](f, validExec())
}

func FuzzUnmarshalPosition(f *testing.F) { fuzzDecoder[events.Position](f, validPosition()) }

func FuzzUnmarshalBalance(f *testing.F) { fuzzDecoder[events.Balance](f, validBalance()) }

// FuzzDecode drives the registry used by generic tools with any type name.
func FuzzDecode(f *testing.F) {
	for _, e := range allValid() {
		b, _ := events.Marshal(e)
		f.Add(e.EventType(), b)
	}
	f.Add("tradebus.nope.v1", []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := events.Decode(typ, data)
		if err != nil {
			if !errors.Is(err, events.ErrDecode) && !errors.Is(err, events.ErrValidation) && !errors.Is(err, events.ErrUnknownType) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if e.EventType() != typ {
			t.Fatalf("Decode(%q) returned %s", typ, e.EventType())
		}
		if err := events.ValidateRoutingKey(e.RoutingKey()); err != nil {
			t.Fatalf("valid event has invalid routing key: %v", err)
		}
	})
}
