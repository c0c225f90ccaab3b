package events

import (
	"strconv"
	"strings"
)

// All tradebus enums are small unsigned integers whose zero value means
// "unset" and is not Valid. Their text form (String, MarshalText, JSON) is
// the canonical upper-case name ("BUY", "PARTIALLY_FILLED"); parsing and
// UnmarshalText accept the name in any case ("buy" as CCXT writes it). FIX
// enums also map to and from their FIX tag values (FIXCode, <Enum>FromFIX).
// Unknown names, codes and numbers are errors wrapping ErrInvalidEnum that
// name the enum and the value.

type enumDef struct {
	name string // canonical name
	fix  string // FIX tag value, "" if none
}

// enumTable describes one enum; index = numeric value, index 0 = unset.
type enumTable struct {
	enum string
	defs []enumDef
}

func (t *enumTable) valid(v uint8) bool {
	return v > 0 && int(v) < len(t.defs) && t.defs[v].name != ""
}

func (t *enumTable) str(v uint8) string {
	if t.valid(v) {
		return t.defs[v].name
	}
	return t.enum + "(" + strconv.Itoa(int(v)) + ")"
}

func (t *enumTable) fixCode(v uint8) string {
	if t.valid(v) {
		return t.defs[v].fix
	}
	return ""
}

func (t *enumTable) parse(s string) (uint8, error) {
	for i := 1; i < len(t.defs); i++ {
		if t.defs[i].name != "" && strings.EqualFold(s, t.defs[i].name) {
			return uint8(i), nil
		}
	}
	return 0, &EnumError{Enum: t.enum, Value: s}
}

func (t *enumTable) parseBytes(b []byte) (uint8, error) {
	if v, ok := t.find(b); ok {
		return v, nil
	}
	return 0, &EnumError{Enum: t.enum, Value: string(b)}
}

// find returns the value whose name is b (ASCII case-insensitively).
func (t *enumTable) find(b []byte) (uint8, bool) {
	for i := 1; i < len(t.defs); i++ {
		if n := t.defs[i].name; n != "" && len(n) == len(b) && equalFoldASCII(n, b) {
			return uint8(i), true
		}
	}
	return 0, false
}

func equalFoldASCII(s string, b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func (t *enumTable) fromFIX(code string) (uint8, error) {
	for i := 1; i < len(t.defs); i++ {
		if t.defs[i].fix != "" && t.defs[i].fix == code {
			return uint8(i), nil
		}
	}
	return 0, &EnumError{Enum: t.enum + " (FIX)", Value: code}
}

func (t *enumTable) marshal(v uint8) ([]byte, error) {
	if !t.valid(v) {
		return nil, &EnumError{Enum: t.enum, Value: strconv.Itoa(int(v))}
	}
	return []byte(t.defs[v].name), nil
}

// Opposite returns SELL for BUY and BUY for SELL (unset stays unset).
func (v Side) Opposite() Side {
	switch v {
	case SideBuy:
		return SideSell
	case SideSell:
		return SideBuy
	}
	return v
}

// Terminal reports whether an order in this state can receive no more
// fills: FILLED, CANCELED, REJECTED, EXPIRED or DONE_FOR_DAY.
func (v OrdStatus) Terminal() bool {
	switch v {
	case OrdStatusFilled, OrdStatusCanceled, OrdStatusRejected, OrdStatusExpired, OrdStatusDoneForDay:
		return true
	}
	return false
}

// closedUnfilled reports the states in which FIX sets LeavesQty to 0
// although OrderQty - CumQty may be positive: CANCELED, REJECTED, EXPIRED,
// DONE_FOR_DAY and CALCULATED.
func (v OrdStatus) closedUnfilled() bool {
	switch v {
	case OrdStatusCanceled, OrdStatusRejected, OrdStatusExpired, OrdStatusDoneForDay, OrdStatusCalculated:
		return true
	}
	return false
}

// IsTrade reports whether the report carries an execution (LastQty,
// LastPx): TRADE, TRADE_CORRECT or TRADE_CANCEL.
func (v ExecType) IsTrade() bool {
	return v == ExecTypeTrade || v == ExecTypeTradeCorrect || v == ExecTypeTradeCancel
}

// NeedsPrice reports whether orders of this type carry a limit Price
// (LIMIT, STOP_LIMIT).
func (v OrdType) NeedsPrice() bool { return v == OrdTypeLimit || v == OrdTypeStopLimit }

// NeedsStopPx reports whether orders of this type carry a StopPx (STOP,
// STOP_LIMIT).
func (v OrdType) NeedsStopPx() bool { return v == OrdTypeStop || v == OrdTypeStopLimit }
