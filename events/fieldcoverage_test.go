package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
)

// TestEveryFieldSurvivesTheCodec guards the hand-written codec (and every
// MarshalJSON) against a field added to an event struct and forgotten in
// the encoder or decoder. For every registered event type it fills every
// exported field, recursively, with a distinct non-zero value, then checks
// that Marshal writes exactly what encoding/json writes for the same
// fields (the documented form: times in UTC) and that decoding gives the
// event back.
func TestEveryFieldSurvivesTheCodec(t *testing.T) {
	names := events.Types()
	if len(names) == 0 {
		t.Fatal("no registered event types")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			zero := events.ZeroEvent(name)
			if zero == nil || zero.EventType() != name {
				t.Fatalf("registry entry %q holds %T", name, zero)
			}
			typ := reflect.TypeOf(zero)
			f := &filler{}
			v := reflect.New(typ).Elem()
			if err := f.fill(v, typ.Name()); err != nil {
				t.Fatal(err)
			}
			ev := v.Interface().(events.Event)
			if fix, ok := fieldFixups[name]; ok {
				ev = fix(ev)
			}
			if err := nonZero(reflect.ValueOf(ev), typ.Name()); err != nil {
				t.Fatalf("%v (a fix-up must keep every field set)", err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("the filled event is invalid; add a fix-up to fieldFixups: %v", err)
			}

			got, err := events.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(plainCopy(reflect.ValueOf(ev)).Interface())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Marshal differs from encoding/json (a field missing from a hand-written encoder?):\n got %s\nwant %s", got, want)
			}

			t.Logf("%s", got)
			back, err := events.Decode(name, got)
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, got)
			}
			if reflect.TypeOf(back) != typ || !sameEvent(ev, back) {
				t.Fatalf("decoding lost or changed a field (a field missing from a hand-written decoder?):\n in  %+v\n out %+v", ev, back)
			}
			if again, err := events.Marshal(back); err != nil || !bytes.Equal(again, got) {
				t.Fatalf("re-encoding differs:\n%s\n%s (%v)", got, again, err)
			}
		})
	}
}

// filler sets values that are non-zero, distinct from each other (a
// counter goes into each), and shaped to pass the usual rules: positive
// decimals with a fraction, increasing in fill order, times with nanoseconds in a non-UTC zone, the
// first valid value of an enum, routing-key-safe strings, three entries
// per slice.
type filler struct{ n int }

var zone = time.FixedZone("IST", 5*3600+30*60)

func (f *filler) fill(v reflect.Value, path string) error {
	f.n++
	n := f.n
	switch v.Type() {
	case decimalType:
		// Increasing with n, 1 to 8 fractional digits.
		x, err := events.ParseDecimal(fmt.Sprintf("%d.%s", 6400+n, "87654321"[:1+n%8]))
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(x))
		return nil
	case timeType:
		t := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC).Add(time.Duration(n)*time.Minute + time.Duration(n))
		v.Set(reflect.ValueOf(t.In(zone)))
		return nil
	}
	if _, enum := v.Interface().(interface{ Valid() bool }); enum && (v.CanInt() || v.CanUint()) {
		for i := range uint64(256) {
			if v.CanUint() {
				v.SetUint(i)
			} else {
				v.SetInt(int64(i))
			}
			if v.Interface().(interface{ Valid() bool }).Valid() {
				return nil
			}
		}
		return fmt.Errorf("%s: enum %s has no valid value below 256", path, v.Type())
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("%s-%d", path[strings.LastIndexByte(path, '.')+1:], n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n) + 1<<(v.Type().Bits()-2))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(n) + 1<<(v.Type().Bits()-1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				return fmt.Errorf("%s: cannot fill unexported field %s of %s; teach the filler this type", path, sf.Name, v.Type())
			}
			if err := f.fill(v.Field(i), path+"."+sf.Name); err != nil {
				return err
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 3, 3))
		for i := range 3 {
			if err := f.fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			if err := f.fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return f.fill(v.Elem(), path)
	case reflect.Map:
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		if err := f.fill(k, path+".key"); err != nil {
			return err
		}
		if err := f.fill(e, path+"[key]"); err != nil {
			return err
		}
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	default:
		return fmt.Errorf("%s: the filler does not know %s", path, v.Type())
	}
	return nil
}

// nonZero reports the first exported field, slice element or map entry
// that is zero or empty.
func nonZero(v reflect.Value, path string) error {
	switch v.Type() {
	case decimalType:
		if v.Interface().(events.Decimal).IsZero() {
			return fmt.Errorf("%s is zero", path)
		}
		return nil
	case timeType:
		if v.Interface().(time.Time).IsZero() {
			return fmt.Errorf("%s is zero", path)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if sf := v.Type().Field(i); sf.IsExported() {
				if err := nonZero(v.Field(i), path+"."+sf.Name); err != nil {
					return err
				}
			}
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		if v.Len() == 0 {
			return fmt.Errorf("%s is empty", path)
		}
		if v.Kind() == reflect.Map {
			for it := v.MapRange(); it.Next(); {
				if err := nonZero(it.Value(), path+"[key]"); err != nil {
					return err
				}
			}
			return nil
		}
		for i := range v.Len() {
			if err := nonZero(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			return fmt.Errorf("%s is nil", path)
		}
		return nonZero(v.Elem(), path)
	default:
		if v.IsZero() {
			return fmt.Errorf("%s is zero", path)
		}
	}
	return nil
}

// plainCopy returns a copy of the event struct v as an unnamed struct type
// with the same fields and tags but none of the event's methods (so
// encoding/json uses its own rules, not the event's MarshalJSON), with
// every time.Time in it converted to UTC as Marshal documents. Field types
// keep their methods (Decimal, enums, PriceLevel), which define the format.
func plainCopy(v reflect.Value) reflect.Value {
	fields := make([]reflect.StructField, v.NumField())
	for i := range fields {
		fields[i] = v.Type().Field(i)
	}
	p := reflect.New(reflect.StructOf(fields)).Elem()
	p.Set(v.Convert(p.Type()))
	toUTC(p)
	return p
}

// toUTC converts every time.Time reachable from the settable v to UTC,
// copying slices and pointed-to values first so the original is not
// changed.
func toUTC(v reflect.Value) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				toUTC(v.Field(i))
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			toUTC(v.Index(i))
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := range v.Len() {
			toUTC(v.Index(i))
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		v.Set(c)
		toUTC(v.Elem())
	}
}

// fieldFixups adjusts the filled value of the types whose rules relate
// fields to each other, keeping every field set. A new event type whose
// filled value does not validate needs an entry here.
var fieldFixups = map[string]func(events.Event) events.Event{
	events.TypeTicker: func(e events.Event) events.Event {
		t := e.(events.Ticker)
		t.Low, t.High = t.High, t.Low // filled in increasing order: high < low
		return t
	},
	events.TypeOrderBook: func(e events.Event) events.Event {
		b := e.(events.OrderBook)
		slices.Reverse(b.Bids) // best (highest) bid first; all bids are below the asks
		return b
	},
	events.TypeCandle: func(e events.Event) events.Event {
		k := e.(events.Candle)
		p := []events.Decimal{k.Open, k.High, k.Low, k.Close}
		slices.SortFunc(p, events.Decimal.Cmp)
		k.Low, k.Open, k.Close, k.High = p[0], p[1], p[2], p[3]
		k.Interval = "15m"
		return k
	},
	events.TypeSignal: func(e events.Event) events.Event {
		s := e.(events.Signal)
		s.Strength = d("0.625")
		return s
	},
	events.TypeOrder: func(e events.Event) events.Event {
		o := e.(events.Order)
		o.Action = events.OrderReplace // the only action with every field set
		o.OrdType = events.OrdTypeStopLimit
		return o
	},
	events.TypeExecutionReport: func(e events.Event) events.Event {
		r := e.(events.ExecutionReport)
		r.ExecType, r.OrdStatus, r.OrdType = events.ExecTypeTrade, events.OrdStatusPartiallyFilled, events.OrdTypeStopLimit
		r.OrderQty, r.CumQty, r.LeavesQty, r.LastQty = d("2.5"), d("0.75"), d("1.75"), d("0.25")
		return r
	},
	events.TypeBalance: func(e events.Event) events.Event {
		b := e.(events.Balance)
		b.Total = b.Free.Add(b.Locked)
		return b
	},
}
