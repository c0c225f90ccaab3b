package events_test

import (
	"encoding"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tradebus/tradebus/events"
)

// enumValue is what every enum implements.
type enumValue interface {
	String() string
	Valid() bool
	encoding.TextMarshaler
}

type enumMember struct {
	v    enumValue
	name string
	fix  string // "" for non-FIX enums
}

type enumSpec struct {
	enum    string
	members []enumMember
	parse   func(string) (enumValue, error)
	fromFIX func(string) (enumValue, error) // nil for non-FIX enums
	fixCode func(enumValue) string
	decode  func([]byte) (enumValue, error) // via JSON
	invalid []enumValue                     // zero and out-of-range values
}

func spec[T interface {
	~uint8
	enumValue
}](enum string, parse func(string) (T, error), fromFIX func(string) (T, error), members ...enumMember) enumSpec {
	s := enumSpec{
		enum:    enum,
		members: members,
		parse:   func(x string) (enumValue, error) { return parse(x) },
		decode: func(b []byte) (enumValue, error) {
			var v T
			err := json.Unmarshal(b, &v)
			return v, err
		},
		invalid: []enumValue{T(0), T(len(members) + 1), T(255)},
	}
	if fromFIX != nil {
		s.fromFIX = func(x string) (enumValue, error) { return fromFIX(x) }
		s.fixCode = func(v enumValue) string { return v.(interface{ FIXCode() string }).FIXCode() }
	}
	return s
}

func m(v enumValue, name, fix string) enumMember { return enumMember{v, name, fix} }

func allEnums() []enumSpec {
	return []enumSpec{
		spec("Side", events.ParseSide, events.SideFromFIX,
			m(events.SideBuy, "BUY", "1"), m(events.SideSell, "SELL", "2")),
		spec("OrdStatus", events.ParseOrdStatus, events.OrdStatusFromFIX,
			m(events.OrdStatusNew, "NEW", "0"), m(events.OrdStatusPartiallyFilled, "PARTIALLY_FILLED", "1"),
			m(events.OrdStatusFilled, "FILLED", "2"), m(events.OrdStatusDoneForDay, "DONE_FOR_DAY", "3"),
			m(events.OrdStatusCanceled, "CANCELED", "4"), m(events.OrdStatusReplaced, "REPLACED", "5"),
			m(events.OrdStatusPendingCancel, "PENDING_CANCEL", "6"), m(events.OrdStatusStopped, "STOPPED", "7"),
			m(events.OrdStatusRejected, "REJECTED", "8"), m(events.OrdStatusSuspended, "SUSPENDED", "9"),
			m(events.OrdStatusPendingNew, "PENDING_NEW", "A"), m(events.OrdStatusCalculated, "CALCULATED", "B"),
			m(events.OrdStatusExpired, "EXPIRED", "C"), m(events.OrdStatusAcceptedForBidding, "ACCEPTED_FOR_BIDDING", "D"),
			m(events.OrdStatusPendingReplace, "PENDING_REPLACE", "E")),
		spec("ExecType", events.ParseExecType, events.ExecTypeFromFIX,
			m(events.ExecTypeNew, "NEW", "0"), m(events.ExecTypeDoneForDay, "DONE_FOR_DAY", "3"),
			m(events.ExecTypeCanceled, "CANCELED", "4"), m(events.ExecTypeReplaced, "REPLACED", "5"),
			m(events.ExecTypePendingCancel, "PENDING_CANCEL", "6"), m(events.ExecTypeStopped, "STOPPED", "7"),
			m(events.ExecTypeRejected, "REJECTED", "8"), m(events.ExecTypeSuspended, "SUSPENDED", "9"),
			m(events.ExecTypePendingNew, "PENDING_NEW", "A"), m(events.ExecTypeCalculated, "CALCULATED", "B"),
			m(events.ExecTypeExpired, "EXPIRED", "C"), m(events.ExecTypeRestated, "RESTATED", "D"),
			m(events.ExecTypePendingReplace, "PENDING_REPLACE", "E"), m(events.ExecTypeTrade, "TRADE", "F"),
			m(events.ExecTypeTradeCorrect, "TRADE_CORRECT", "G"), m(events.ExecTypeTradeCancel, "TRADE_CANCEL", "H"),
			m(events.ExecTypeOrderStatus, "ORDER_STATUS", "I")),
		spec("OrdType", events.ParseOrdType, events.OrdTypeFromFIX,
			m(events.OrdTypeMarket, "MARKET", "1"), m(events.OrdTypeLimit, "LIMIT", "2"),
			m(events.OrdTypeStop, "STOP", "3"), m(events.OrdTypeStopLimit, "STOP_LIMIT", "4")),
		spec("TimeInForce", events.ParseTimeInForce, events.TimeInForceFromFIX,
			m(events.TimeInForceDay, "DAY", "0"), m(events.TimeInForceGTC, "GTC", "1"),
			m(events.TimeInForceOPG, "OPG", "2"), m(events.TimeInForceIOC, "IOC", "3"),
			m(events.TimeInForceFOK, "FOK", "4"), m(events.TimeInForceGTX, "GTX", "5")),
		spec[events.SignalAction]("SignalAction", events.ParseSignalAction, nil,
			m(events.SignalBuy, "BUY", ""), m(events.SignalSell, "SELL", ""), m(events.SignalHold, "HOLD", "")),
		spec[events.TakerOrMaker]("TakerOrMaker", events.ParseTakerOrMaker, nil,
			m(events.Taker, "TAKER", ""), m(events.Maker, "MAKER", "")),
		spec[events.BookKind]("BookKind", events.ParseBookKind, nil,
			m(events.BookSnapshot, "SNAPSHOT", ""), m(events.BookDelta, "DELTA", "")),
		spec[events.OrderAction]("OrderAction", events.ParseOrderAction, nil,
			m(events.OrderNew, "NEW", ""), m(events.OrderCancel, "CANCEL", ""), m(events.OrderReplace, "REPLACE", "")),
	}
}

func TestEnums(t *testing.T) {
	for _, s := range allEnums() {
		t.Run(s.enum, func(t *testing.T) {
			for _, mb := range s.members {
				if !mb.v.Valid() {
					t.Errorf("%s not Valid", mb.name)
				}
				if got := mb.v.String(); got != mb.name {
					t.Errorf("String = %q, want %q", got, mb.name)
				}
				for _, in := range []string{mb.name, strings.ToLower(mb.name)} {
					if got, err := s.parse(in); err != nil || got != mb.v {
						t.Errorf("Parse(%q) = %v, %v", in, got, err)
					}
				}
				js, err := json.Marshal(mb.v)
				if err != nil || string(js) != `"`+mb.name+`"` {
					t.Errorf("json = %s, %v", js, err)
				}
				if got, err := s.decode(js); err != nil || got != mb.v {
					t.Errorf("json decode %s = %v, %v", js, got, err)
				}
				if s.fromFIX != nil {
					if got := s.fixCode(mb.v); got != mb.fix {
						t.Errorf("%s FIXCode = %q, want %q", mb.name, got, mb.fix)
					}
					if got, err := s.fromFIX(mb.fix); err != nil || got != mb.v {
						t.Errorf("FromFIX(%q) = %v, %v", mb.fix, got, err)
					}
				}
			}
			for _, bad := range []string{"", "UNKNOWN", "BUY ", " BUY", "1", "PARTIALLY FILLED"} {
				if isMember(s, bad) {
					continue
				}
				_, err := s.parse(bad)
				var ee *events.EnumError
				if !errors.Is(err, events.ErrInvalidEnum) || !errors.As(err, &ee) || ee.Value != bad || ee.Enum != s.enum {
					t.Errorf("Parse(%q) error = %v", bad, err)
				}
				if !strings.Contains(err.Error(), s.enum) {
					t.Errorf("error %q does not name the enum", err)
				}
				if _, err := s.decode([]byte(`"` + bad + `"`)); !errors.Is(err, events.ErrInvalidEnum) {
					t.Errorf("json decode %q: %v", bad, err)
				}
			}
			if _, err := s.decode([]byte(`1`)); err == nil {
				t.Error("json decode of a number accepted")
			}
			if s.fromFIX != nil {
				for _, bad := range []string{"", "Z", "BUY", "11"} {
					if _, err := s.fromFIX(bad); !errors.Is(err, events.ErrInvalidEnum) {
						t.Errorf("FromFIX(%q) = %v", bad, err)
					}
				}
			}
			for _, inv := range s.invalid {
				if inv.Valid() {
					t.Errorf("%v Valid", inv)
				}
				if !strings.HasPrefix(inv.String(), s.enum+"(") {
					t.Errorf("invalid String = %q", inv.String())
				}
				if _, err := inv.MarshalText(); !errors.Is(err, events.ErrInvalidEnum) {
					t.Errorf("MarshalText(%v) = %v", inv, err)
				}
				if s.fixCode != nil && s.fixCode(inv) != "" {
					t.Errorf("FIXCode of invalid = %q", s.fixCode(inv))
				}
			}
		})
	}
}

func isMember(s enumSpec, name string) bool {
	for _, mb := range s.members {
		if strings.EqualFold(mb.name, name) {
			return true
		}
	}
	return false
}

func TestEnumHelpers(t *testing.T) {
	if events.SideBuy.Opposite() != events.SideSell || events.SideSell.Opposite() != events.SideBuy || events.Side(0).Opposite() != 0 {
		t.Error("Opposite")
	}
	terminal := map[events.OrdStatus]bool{
		events.OrdStatusFilled: true, events.OrdStatusCanceled: true, events.OrdStatusRejected: true,
		events.OrdStatusExpired: true, events.OrdStatusDoneForDay: true,
	}
	for v := events.OrdStatus(0); v < 20; v++ {
		if v.Terminal() != terminal[v] {
			t.Errorf("%v Terminal = %v", v, v.Terminal())
		}
	}
	for v := events.ExecType(0); v < 20; v++ {
		want := v == events.ExecTypeTrade || v == events.ExecTypeTradeCorrect || v == events.ExecTypeTradeCancel
		if v.IsTrade() != want {
			t.Errorf("%v IsTrade = %v", v, v.IsTrade())
		}
	}
	for _, tc := range []struct {
		t             events.OrdType
		price, stopPx bool
	}{
		{events.OrdTypeMarket, false, false}, {events.OrdTypeLimit, true, false},
		{events.OrdTypeStop, false, true}, {events.OrdTypeStopLimit, true, true}, {0, false, false},
	} {
		if tc.t.NeedsPrice() != tc.price || tc.t.NeedsStopPx() != tc.stopPx {
			t.Errorf("%v NeedsPrice/NeedsStopPx wrong", tc.t)
		}
	}
}
