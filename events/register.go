package events

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// ErrRegister is wrapped by every error Register returns.
var ErrRegister = errors.New("tradebus: cannot register event type")

// ReservedNamespace is the first segment of the built-in type names
// ("tradebus.trade.v1"); Register refuses it for other types.
const ReservedNamespace = "tradebus"

// registry holds the types added with Register. Decode and Types read it
// beside builtins, which never changes.
var registry struct {
	mu     sync.RWMutex
	custom map[string]registration
}

// lookup returns the registration of typeName, built in or registered.
func lookup(typeName string) (registration, bool) {
	if r, ok := builtins[typeName]; ok {
		return r, true
	}
	registry.mu.RLock()
	r, ok := registry.custom[typeName]
	registry.mu.RUnlock()
	return r, ok
}

// Register adds the application's own event type T to the registry that
// Decode and Types read (generic tools: dead-letter listing, replay), after
// checking the rules every event type follows:
//
//   - T's EventType is "<namespace>.<name>.v<version>": dot-separated
//     segments (see ValidateSegment), at least three, the last "v" and a
//     number from 1; a breaking change to the JSON shape gets a new
//     version. The namespace "tradebus" is reserved for the built-in
//     types: use your own ("acme.funding.v1").
//   - The kind of T's routing key (its first segment; asked of the zero
//     T, so it must be a constant of the type) is not a built-in kind
//     (ticker, trade, book, candle, signal, order, exec, position,
//     balance) nor "deadletter": a subscription to a built-in pattern
//     such as "trade.*.BTCUSDT" would otherwise receive T and dead-letter
//     it as a type mismatch.
//   - The type name is not registered yet.
//
// Publishing and handling T (publisher.Publish, subscriber.On[T]) work
// without Register; it adds the checks and the generic decoding. Errors
// wrap ErrRegister. Register is safe for concurrent use; call it once per
// type, usually from an init function or a package-level var (MustRegister).
func Register[T Event]() error {
	if reflect.TypeFor[T]().Kind() == reflect.Interface {
		return fmt.Errorf("%w: %s is an interface, want a concrete event type", ErrRegister, reflect.TypeFor[T]())
	}
	name := typeNameOf[T]()
	if err := validateTypeName(name); err != nil {
		return err
	}
	if key := routingKeyOfZero[T](); key != "" {
		kind := Kind(key)
		if kind == "" {
			return fmt.Errorf("%w %s: routing key %q of the zero value has no kind (first segment)", ErrRegister, name, key)
		}
		if err := ValidateSegment(kind); err != nil {
			return fmt.Errorf("%w %s: kind %q: %w", ErrRegister, name, kind, err)
		}
		if builtinKinds[kind] {
			return fmt.Errorf("%w %s: kind %q is a built-in kind; give the type its own first routing-key segment", ErrRegister, name, kind)
		}
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, dup := builtins[name]; dup {
		return fmt.Errorf("%w %s: already registered", ErrRegister, name)
	}
	if _, dup := registry.custom[name]; dup {
		return fmt.Errorf("%w %s: already registered", ErrRegister, name)
	}
	if registry.custom == nil {
		registry.custom = make(map[string]registration)
	}
	registry.custom[name] = registration{zero: zeroOf[T](), decode: decodeAs[T]}
	return nil
}

// MustRegister is Register, panicking on its error. It returns true so
// that it can initialise a package-level variable:
//
//	var _ = events.MustRegister[FundingRate]()
func MustRegister[T Event]() bool {
	if err := Register[T](); err != nil {
		panic(err)
	}
	return true
}

// builtinKinds are the kinds of the built-in types, and the poison topic's.
var builtinKinds = map[string]bool{
	KindTicker: true, KindTrade: true, KindBook: true, KindCandle: true, KindSignal: true,
	KindOrder: true, KindExec: true, KindPosition: true, KindBalance: true, "deadletter": true,
}

// validateTypeName checks the "<namespace>.<name>.v<version>" rule.
func validateTypeName(name string) error {
	segs := strings.Split(name, ".")
	if len(segs) < 3 {
		return fmt.Errorf("%w %q: want <namespace>.<name>.v<version>, e.g. acme.funding.v1", ErrRegister, name)
	}
	for _, s := range segs {
		if err := ValidateSegment(s); err != nil {
			return fmt.Errorf("%w %q: %w", ErrRegister, name, err)
		}
	}
	if segs[0] == ReservedNamespace {
		return fmt.Errorf("%w %q: the namespace %q is reserved for the built-in types", ErrRegister, name, ReservedNamespace)
	}
	v := segs[len(segs)-1]
	ok := len(v) >= 2 && v[0] == 'v' && v[1] != '0'
	for i := 1; ok && i < len(v); i++ {
		ok = v[i] >= '0' && v[i] <= '9'
	}
	if !ok {
		return fmt.Errorf("%w %q: last segment %q is not a version (v1, v2, …)", ErrRegister, name, v)
	}
	return nil
}

// zeroOf returns T's zero value as an Event; for a pointer type a pointer
// to a zero value, so that its methods can be called.
func zeroOf[T Event]() Event {
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Pointer {
		if e, ok := reflect.New(t.Elem()).Interface().(Event); ok {
			return e
		}
	}
	var zero T
	return zero
}

// routingKeyOfZero asks the zero T for its routing key.
func routingKeyOfZero[T Event]() string { return zeroOf[T]().RoutingKey() }
