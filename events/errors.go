package events

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is; never match error text.
var (
	// ErrValidation is matched by every *ValidationError: an event whose
	// fields break a rule of its type.
	ErrValidation = errors.New("tradebus: invalid event")
	// ErrDecode is matched by every *DecodeError: bytes that are not a
	// well-formed encoding of the requested event type.
	ErrDecode = errors.New("tradebus: cannot decode event")
	// ErrUnknownType is returned by Decode for a type name no event type
	// registers.
	ErrUnknownType = errors.New("tradebus: unknown event type")
	// ErrInvalidEnum is matched by every *EnumError: a name or FIX code that
	// is not a value of the enum.
	ErrInvalidEnum = errors.New("tradebus: invalid enum value")
)

// ValidationError names the event type, the field (its JSON name, with an
// index for list elements, e.g. "bids[2].price"), the offending value and
// the rule it breaks. It matches ErrValidation with errors.Is.
type ValidationError struct {
	Type   string // event type, e.g. "tradebus.trade.v1"
	Field  string // JSON field name
	Value  string // the offending value as text ("" when empty)
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("tradebus: invalid %s: %s = %q: %s", e.Type, e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrValidation.
func (e *ValidationError) Unwrap() error { return ErrValidation }

// DecodeError reports bytes that could not be decoded as Type. It matches
// ErrDecode with errors.Is, and its cause (e.g. ErrDecimal, ErrInvalidEnum
// or a *json.SyntaxError) through Unwrap.
type DecodeError struct {
	Type string // the event type that was requested
	Err  error  // the cause
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("tradebus: cannot decode %s: %v", e.Type, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// Is reports whether target is ErrDecode.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// EnumError names the enum and the value that is not one of its members. It
// matches ErrInvalidEnum with errors.Is.
type EnumError struct {
	Enum  string // e.g. "Side"
	Value string // the rejected name, FIX code or number
}

func (e *EnumError) Error() string {
	return fmt.Sprintf("tradebus: invalid %s %q", e.Enum, e.Value)
}

// Unwrap returns ErrInvalidEnum.
func (e *EnumError) Unwrap() error { return ErrInvalidEnum }
