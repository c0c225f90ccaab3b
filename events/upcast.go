package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// ErrNoUpcast is wrapped by UnmarshalAs when data of one type cannot be
// read as another: no chain of upcasts (RegisterUpcast) leads there.
var ErrNoUpcast = errors.New("tradebus: no upcast between event types")

// upcaster converts a decoded event of one version into the next.
type upcaster struct {
	to      string
	decode  func([]byte) (Event, error)
	convert func(Event) (Event, error)
}

var upcasts struct {
	mu   sync.RWMutex
	from map[string]upcaster
}

// RegisterUpcast lets history written as From be read as To: fn converts
// an old event into the new version. To is the next version of the same
// type: its name differs from From's only in a higher version
// ("acme.funding.v1" → "acme.funding.v2"). Upcasts chain: with v1→v2 and
// v2→v3 registered, a v1 event is read as v3. Each type has at most one
// upcast from it. Handlers of To (subscriber.On[To], subscriber.Handle)
// then receive From events converted and validated; handlers of From still
// receive From. Errors wrap ErrRegister. Safe for concurrent use; call it
// once, beside Register.
func RegisterUpcast[From, To Event](fn func(From) (To, error)) error {
	from, to := typeNameOf[From](), typeNameOf[To]()
	if fn == nil {
		return fmt.Errorf("%w: nil upcast %s → %s", ErrRegister, from, to)
	}
	fb, fv, ok1 := splitVersion(from)
	tb, tv, ok2 := splitVersion(to)
	if !ok1 || !ok2 || fb != tb || tv <= fv {
		return fmt.Errorf("%w: upcast %s → %s: want a higher version of the same type (<namespace>.<name>.v<N>)", ErrRegister, from, to)
	}
	upcasts.mu.Lock()
	defer upcasts.mu.Unlock()
	if _, dup := upcasts.from[from]; dup {
		return fmt.Errorf("%w: an upcast from %s is already registered", ErrRegister, from)
	}
	if upcasts.from == nil {
		upcasts.from = make(map[string]upcaster)
	}
	upcasts.from[from] = upcaster{
		to:     to,
		decode: decodeAs[From],
		convert: func(e Event) (Event, error) {
			old, ok := e.(From)
			if !ok {
				return nil, fmt.Errorf("upcast %s → %s: got %T", from, to, e)
			}
			return fn(old)
		},
	}
	return nil
}

// splitVersion splits "acme.funding.v2" into ("acme.funding", 2).
func splitVersion(name string) (base string, version int, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i+2 > len(name) || name[i+1] != 'v' {
		return "", 0, false
	}
	v, err := strconv.Atoi(name[i+2:])
	if err != nil || v < 1 {
		return "", 0, false
	}
	return name[:i], v, true
}

// UnmarshalAs decodes data written as the event type typeName and returns
// it as T: directly when typeName is T's type (or empty), else through the
// chain of registered upcasts. The result is validated. An error wraps
// ErrNoUpcast when no chain leads from typeName to T, and is otherwise as
// for Unmarshal or the upcast's own error.
func UnmarshalAs[T Event](typeName string, data []byte) (T, error) {
	var zero T
	want := typeNameOf[T]()
	if typeName == "" || typeName == want {
		return Unmarshal[T](data)
	}
	upcasts.mu.RLock()
	step, ok := upcasts.from[typeName]
	upcasts.mu.RUnlock()
	if !ok {
		return zero, fmt.Errorf("%w: %s → %s", ErrNoUpcast, typeName, want)
	}
	ev, err := step.decode(data)
	if err != nil {
		return zero, err
	}
	for cur := typeName; ; {
		if ev, err = step.convert(ev); err != nil {
			return zero, fmt.Errorf("upcast %s → %s: %w", cur, step.to, err)
		}
		cur = step.to
		if cur == want {
			break
		}
		upcasts.mu.RLock()
		step, ok = upcasts.from[cur]
		upcasts.mu.RUnlock()
		if !ok {
			return zero, fmt.Errorf("%w: %s → %s (the chain ends at %s)", ErrNoUpcast, typeName, want, cur)
		}
	}
	out, ok := ev.(T)
	if !ok {
		return zero, fmt.Errorf("%w: %s → %s gave %T", ErrNoUpcast, typeName, want, ev)
	}
	if err := out.Validate(); err != nil {
		return zero, fmt.Errorf("upcast %s → %s: %w", typeName, want, err)
	}
	return out, nil
}
