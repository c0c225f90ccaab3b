package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// Marshal validates e and encodes it as JSON: decimals as strings, enums
// as names, times as RFC 3339 with nanoseconds in UTC. An invalid event is
// not encoded; the error is its *ValidationError (ErrValidation).
//
// A nil event or nil pointer is a *ValidationError too.
func Marshal(e Event) ([]byte, error) {
	// The market-data types are encoded into a stack buffer and copied
	// out at their exact size: one allocation, no larger than needed (the
	// bytes allocated, more than the copy, are what garbage collection
	// costs). Each has a buffer of its own size (in its own function), as
	// the buffer is zeroed on every call: typical encodings take under a
	// third of it (a trade ~180 bytes, a full ticker ~250, a book
	// 160 + ~30 bytes a level); a larger one grows onto the heap.
	var (
		b   []byte
		ok  bool
		err error
	)
	switch v := e.(type) {
	case Trade:
		b, ok, err = marshalTrade(&v)
	case Ticker:
		b, ok, err = marshalTicker(&v)
	case OrderBook:
		switch levels := len(v.Bids) + len(v.Asks); {
		case 160+32*levels <= 512:
			b, ok, err = marshalBook512(&v)
		case 160+32*levels <= 1024:
			b, ok, err = marshalBook1024(&v)
		default:
			// Larger books get a generous heap buffer instead.
			return AppendMarshal(make([]byte, 0, 160+48*levels), v)
		}
	default:
		return marshalSlow(e)
	}
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return marshalSlow(e) // the encoding/json path
	}
	return b, nil
}

// marshalTrade is Marshal's fast path for a Trade: it returns the
// encoding (copied out at its exact size), or ok false if the
// hand-written encoder declines. The stack buffer must not escape: the
// encoding in it is held in a local, never in a result.
func marshalTrade(v *Trade) ([]byte, bool, error) {
	var stack [384]byte
	if err := v.validate(); err != nil {
		return nil, false, err
	}
	enc, ok := v.appendJSON(stack[:0])
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), enc...), true, nil
}

// marshalTicker is marshalTrade for a Ticker.
func marshalTicker(v *Ticker) ([]byte, bool, error) {
	var stack [512]byte
	if err := v.validate(); err != nil {
		return nil, false, err
	}
	enc, ok := v.appendJSON(stack[:0])
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), enc...), true, nil
}

// marshalBook512 is marshalTrade for an OrderBook of up to 11 levels.
func marshalBook512(v *OrderBook) ([]byte, bool, error) {
	var stack [512]byte
	enc, ok, err := v.validateAppend(stack[:0])
	if err != nil || !ok {
		return nil, false, err
	}
	return append([]byte(nil), enc...), true, nil
}

// marshalBook1024 is marshalTrade for an OrderBook of up to 27 levels.
func marshalBook1024(v *OrderBook) ([]byte, bool, error) {
	var stack [1024]byte
	enc, ok, err := v.validateAppend(stack[:0])
	if err != nil || !ok {
		return nil, false, err
	}
	return append([]byte(nil), enc...), true, nil
}

// AppendMarshal is Marshal appending to dst: it validates e and appends
// its JSON encoding (the bytes Marshal returns) to dst, so that a caller
// can reuse one buffer for many events. On error it returns dst unchanged
// (the spare capacity of dst may have been written) and the error Marshal
// returns. For Trade, Ticker and OrderBook (as T or inside an Event) it
// allocates only if dst is too short.
func AppendMarshal[T Event](dst []byte, e T) ([]byte, error) {
	var (
		b   []byte
		ok  bool
		err error
	)
	switch v := any(e).(type) {
	case Trade:
		if err = v.validate(); err == nil {
			b, ok = v.appendJSON(dst)
		}
	case Ticker:
		if err = v.validate(); err == nil {
			b, ok = v.appendJSON(dst)
		}
	case OrderBook:
		b, ok, err = v.validateAppend(dst)
	}
	switch {
	case err != nil:
		return dst, err
	case ok:
		return b, nil
	}
	out, err := marshalSlow(e) // a second conversion: the one above stays on the stack
	if err != nil {
		return dst, err
	}
	return append(dst, out...), nil
}

// marshalSlow is Marshal for any event, through its MarshalJSON method.
func marshalSlow(e Event) ([]byte, error) {
	if e == nil {
		return nil, &ValidationError{Type: "<nil>", Reason: "nil event"}
	}
	if v := reflect.ValueOf(e); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, &ValidationError{Type: v.Type().String(), Reason: "nil event"}
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	// Every tradebus event implements json.Marshaler (to write times in
	// UTC); calling it directly skips encoding/json's re-scan of its output.
	if m, ok := e.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	return json.Marshal(e)
}

// Unmarshal decodes data as a T and validates it. Unknown JSON fields are
// ignored (forward compatibility: a newer producer may add optional fields
// within the same type version). A malformed document, a JSON number where
// a decimal string belongs, or an unknown enum name is a *DecodeError
// (ErrDecode, with the cause); a well-formed event that breaks a rule is a
// *ValidationError (ErrValidation). On error the zero T is returned.
//
// The strings of the result never refer to data: data may be reused once
// Unmarshal returns.
//
// T is normally a value type (events.Trade); a pointer type works too.
func Unmarshal[T Event](data []byte) (T, error) {
	var v T
	var err error
	fast := false
	// A type switch, not interface method calls, so that v can stay on
	// the stack and is not copied to be validated.
	switch p := any(&v).(type) {
	case *Trade:
		var pr proof
		if fast, pr = p.decodeFastProof(data); fast {
			err = p.check(pr)
		}
	case *Ticker:
		var pr proof
		if fast, pr = p.decodeFastProof(data); fast {
			err = p.check(pr)
		}
	case *OrderBook:
		var pr proof
		if fast, pr = p.decodeFastProof(data); fast {
			err = p.check(pr)
		}
	}
	if fast {
		if err != nil {
			var zero T
			return zero, err
		}
		return v, nil
	}
	// Decode from scratch, so that results and errors are encoding/json's
	// (the fast path may have set some fields). A separate function keeps
	// the fast path's v off the heap.
	return unmarshalSlow[T](data)
}

func unmarshalSlow[T Event](data []byte) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		var zero T
		return zero, &DecodeError{Type: typeNameOf[T](), Err: err}
	}
	if reflect.TypeFor[T]().Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil() {
		var zero T
		return zero, &DecodeError{Type: typeNameOf[T](), Err: fmt.Errorf("null document")}
	}
	if err := v.Validate(); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// typeNameOf returns T's EventType without calling a method on a nil
// pointer.
func typeNameOf[T Event]() string {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Pointer {
		if e, ok := reflect.New(t.Elem()).Interface().(Event); ok {
			return e.EventType()
		}
		return t.String()
	}
	var zero T
	return zero.EventType()
}

// registration is one registered event type: its zero value (for tools
// and tests that enumerate the types) and its decoder.
type registration struct {
	zero   Event
	decode func([]byte) (Event, error)
}

func register[T Event]() registration {
	var zero T
	return registration{zero: zero, decode: decodeAs[T]}
}

// builtins maps every built-in type name to its registration. Every
// built-in event type must be listed here: the codec tests enumerate it.
// Register adds applications' own types beside them (see registry).
var builtins = map[string]registration{
	TypeTicker:          register[Ticker](),
	TypeTrade:           register[Trade](),
	TypeOrderBook:       register[OrderBook](),
	TypeCandle:          register[Candle](),
	TypeSignal:          register[Signal](),
	TypeOrder:           register[Order](),
	TypeExecutionReport: register[ExecutionReport](),
	TypePosition:        register[Position](),
	TypeBalance:         register[Balance](),
}

func decodeAs[T Event](data []byte) (Event, error) {
	v, err := Unmarshal[T](data)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Decode decodes and validates data as the event type named typeName (the
// CloudEvents "type" metadata, e.g. "tradebus.trade.v1"), for tools that
// handle any event (the poison-queue CLI, replay). The dynamic type of the
// result is the value type (events.Trade), or the type given to Register. An unregistered name is an
// error wrapping ErrUnknownType; otherwise errors are as for Unmarshal.
func Decode(typeName string, data []byte) (Event, error) {
	r, ok := lookup(typeName)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, typeName)
	}
	return r.decode(data)
}

// Types returns the registered event type names (the built-in ones and
// those added with Register), sorted.
func Types() []string {
	registry.mu.RLock()
	names := make([]string, 0, len(builtins)+len(registry.custom))
	for n := range builtins {
		names = append(names, n)
	}
	for n := range registry.custom {
		names = append(names, n)
	}
	registry.mu.RUnlock()
	slices.Sort(names)
	return names
}
