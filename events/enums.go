package events

// Side is FIX tag 54: the side of an order or trade.
// The zero value is unset and not Valid.
type Side uint8

// Side values.
const (
	SideBuy  Side = iota + 1 // BUY, FIX 1: buy
	SideSell                 // SELL, FIX 2: sell
)

var sideTable = enumTable{enum: "Side", defs: []enumDef{
	{},
	SideBuy:  {name: "BUY", fix: "1"},
	SideSell: {name: "SELL", fix: "2"},
}}

// ParseSide parses a Side name in any case (e.g. "buy"). The error
// wraps ErrInvalidEnum and names the value.
func ParseSide(s string) (Side, error) {
	v, err := sideTable.parse(s)
	return Side(v), err
}

// String returns the canonical name, or "Side(n)" for an invalid value.
func (v Side) String() string { return sideTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v Side) Valid() bool { return sideTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v Side) MarshalText() ([]byte, error) { return sideTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseSide).
func (v *Side) UnmarshalText(b []byte) error {
	x, err := sideTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = Side(x)
	return nil
}

// FIXCode returns the FIX tag 54 value ("1" for SideBuy), or "" for an
// invalid value.
func (v Side) FIXCode() string { return sideTable.fixCode(uint8(v)) }

// SideFromFIX maps a FIX tag 54 value to a Side. The error wraps
// ErrInvalidEnum.
func SideFromFIX(code string) (Side, error) {
	v, err := sideTable.fromFIX(code)
	return Side(v), err
}

// OrdStatus is FIX tag 39: the state of an order after an execution report.
// The zero value is unset and not Valid.
type OrdStatus uint8

// OrdStatus values.
const (
	OrdStatusNew                OrdStatus = iota + 1 // NEW, FIX 0
	OrdStatusPartiallyFilled                         // PARTIALLY_FILLED, FIX 1
	OrdStatusFilled                                  // FILLED, FIX 2
	OrdStatusDoneForDay                              // DONE_FOR_DAY, FIX 3
	OrdStatusCanceled                                // CANCELED, FIX 4
	OrdStatusReplaced                                // REPLACED, FIX 5
	OrdStatusPendingCancel                           // PENDING_CANCEL, FIX 6
	OrdStatusStopped                                 // STOPPED, FIX 7
	OrdStatusRejected                                // REJECTED, FIX 8
	OrdStatusSuspended                               // SUSPENDED, FIX 9
	OrdStatusPendingNew                              // PENDING_NEW, FIX A
	OrdStatusCalculated                              // CALCULATED, FIX B
	OrdStatusExpired                                 // EXPIRED, FIX C
	OrdStatusAcceptedForBidding                      // ACCEPTED_FOR_BIDDING, FIX D
	OrdStatusPendingReplace                          // PENDING_REPLACE, FIX E
)

var ordStatusTable = enumTable{enum: "OrdStatus", defs: []enumDef{
	{},
	OrdStatusNew:                {name: "NEW", fix: "0"},
	OrdStatusPartiallyFilled:    {name: "PARTIALLY_FILLED", fix: "1"},
	OrdStatusFilled:             {name: "FILLED", fix: "2"},
	OrdStatusDoneForDay:         {name: "DONE_FOR_DAY", fix: "3"},
	OrdStatusCanceled:           {name: "CANCELED", fix: "4"},
	OrdStatusReplaced:           {name: "REPLACED", fix: "5"},
	OrdStatusPendingCancel:      {name: "PENDING_CANCEL", fix: "6"},
	OrdStatusStopped:            {name: "STOPPED", fix: "7"},
	OrdStatusRejected:           {name: "REJECTED", fix: "8"},
	OrdStatusSuspended:          {name: "SUSPENDED", fix: "9"},
	OrdStatusPendingNew:         {name: "PENDING_NEW", fix: "A"},
	OrdStatusCalculated:         {name: "CALCULATED", fix: "B"},
	OrdStatusExpired:            {name: "EXPIRED", fix: "C"},
	OrdStatusAcceptedForBidding: {name: "ACCEPTED_FOR_BIDDING", fix: "D"},
	OrdStatusPendingReplace:     {name: "PENDING_REPLACE", fix: "E"},
}}

// ParseOrdStatus parses a OrdStatus name in any case (e.g. "new"). The error
// wraps ErrInvalidEnum and names the value.
func ParseOrdStatus(s string) (OrdStatus, error) {
	v, err := ordStatusTable.parse(s)
	return OrdStatus(v), err
}

// String returns the canonical name, or "OrdStatus(n)" for an invalid value.
func (v OrdStatus) String() string { return ordStatusTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v OrdStatus) Valid() bool { return ordStatusTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v OrdStatus) MarshalText() ([]byte, error) { return ordStatusTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseOrdStatus).
func (v *OrdStatus) UnmarshalText(b []byte) error {
	x, err := ordStatusTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = OrdStatus(x)
	return nil
}

// FIXCode returns the FIX tag 39 value ("0" for OrdStatusNew), or "" for an
// invalid value.
func (v OrdStatus) FIXCode() string { return ordStatusTable.fixCode(uint8(v)) }

// OrdStatusFromFIX maps a FIX tag 39 value to a OrdStatus. The error wraps
// ErrInvalidEnum.
func OrdStatusFromFIX(code string) (OrdStatus, error) {
	v, err := ordStatusTable.fromFIX(code)
	return OrdStatus(v), err
}

// ExecType is FIX tag 150: what an execution report reports.
// The zero value is unset and not Valid.
type ExecType uint8

// ExecType values.
const (
	ExecTypeNew            ExecType = iota + 1 // NEW, FIX 0
	ExecTypeDoneForDay                         // DONE_FOR_DAY, FIX 3
	ExecTypeCanceled                           // CANCELED, FIX 4
	ExecTypeReplaced                           // REPLACED, FIX 5
	ExecTypePendingCancel                      // PENDING_CANCEL, FIX 6
	ExecTypeStopped                            // STOPPED, FIX 7
	ExecTypeRejected                           // REJECTED, FIX 8
	ExecTypeSuspended                          // SUSPENDED, FIX 9
	ExecTypePendingNew                         // PENDING_NEW, FIX A
	ExecTypeCalculated                         // CALCULATED, FIX B
	ExecTypeExpired                            // EXPIRED, FIX C
	ExecTypeRestated                           // RESTATED, FIX D
	ExecTypePendingReplace                     // PENDING_REPLACE, FIX E
	ExecTypeTrade                              // TRADE, FIX F: a fill (partial or full)
	ExecTypeTradeCorrect                       // TRADE_CORRECT, FIX G
	ExecTypeTradeCancel                        // TRADE_CANCEL, FIX H
	ExecTypeOrderStatus                        // ORDER_STATUS, FIX I
)

var execTypeTable = enumTable{enum: "ExecType", defs: []enumDef{
	{},
	ExecTypeNew:            {name: "NEW", fix: "0"},
	ExecTypeDoneForDay:     {name: "DONE_FOR_DAY", fix: "3"},
	ExecTypeCanceled:       {name: "CANCELED", fix: "4"},
	ExecTypeReplaced:       {name: "REPLACED", fix: "5"},
	ExecTypePendingCancel:  {name: "PENDING_CANCEL", fix: "6"},
	ExecTypeStopped:        {name: "STOPPED", fix: "7"},
	ExecTypeRejected:       {name: "REJECTED", fix: "8"},
	ExecTypeSuspended:      {name: "SUSPENDED", fix: "9"},
	ExecTypePendingNew:     {name: "PENDING_NEW", fix: "A"},
	ExecTypeCalculated:     {name: "CALCULATED", fix: "B"},
	ExecTypeExpired:        {name: "EXPIRED", fix: "C"},
	ExecTypeRestated:       {name: "RESTATED", fix: "D"},
	ExecTypePendingReplace: {name: "PENDING_REPLACE", fix: "E"},
	ExecTypeTrade:          {name: "TRADE", fix: "F"},
	ExecTypeTradeCorrect:   {name: "TRADE_CORRECT", fix: "G"},
	ExecTypeTradeCancel:    {name: "TRADE_CANCEL", fix: "H"},
	ExecTypeOrderStatus:    {name: "ORDER_STATUS", fix: "I"},
}}

// ParseExecType parses a ExecType name in any case (e.g. "new"). The error
// wraps ErrInvalidEnum and names the value.
func ParseExecType(s string) (ExecType, error) {
	v, err := execTypeTable.parse(s)
	return ExecType(v), err
}

// String returns the canonical name, or "ExecType(n)" for an invalid value.
func (v ExecType) String() string { return execTypeTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v ExecType) Valid() bool { return execTypeTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v ExecType) MarshalText() ([]byte, error) { return execTypeTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseExecType).
func (v *ExecType) UnmarshalText(b []byte) error {
	x, err := execTypeTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = ExecType(x)
	return nil
}

// FIXCode returns the FIX tag 150 value ("0" for ExecTypeNew), or "" for an
// invalid value.
func (v ExecType) FIXCode() string { return execTypeTable.fixCode(uint8(v)) }

// ExecTypeFromFIX maps a FIX tag 150 value to a ExecType. The error wraps
// ErrInvalidEnum.
func ExecTypeFromFIX(code string) (ExecType, error) {
	v, err := execTypeTable.fromFIX(code)
	return ExecType(v), err
}

// OrdType is FIX tag 40: the order type.
// The zero value is unset and not Valid.
type OrdType uint8

// OrdType values.
const (
	OrdTypeMarket    OrdType = iota + 1 // MARKET, FIX 1
	OrdTypeLimit                        // LIMIT, FIX 2
	OrdTypeStop                         // STOP, FIX 3: stop (market when triggered)
	OrdTypeStopLimit                    // STOP_LIMIT, FIX 4
)

var ordTypeTable = enumTable{enum: "OrdType", defs: []enumDef{
	{},
	OrdTypeMarket:    {name: "MARKET", fix: "1"},
	OrdTypeLimit:     {name: "LIMIT", fix: "2"},
	OrdTypeStop:      {name: "STOP", fix: "3"},
	OrdTypeStopLimit: {name: "STOP_LIMIT", fix: "4"},
}}

// ParseOrdType parses a OrdType name in any case (e.g. "market"). The error
// wraps ErrInvalidEnum and names the value.
func ParseOrdType(s string) (OrdType, error) {
	v, err := ordTypeTable.parse(s)
	return OrdType(v), err
}

// String returns the canonical name, or "OrdType(n)" for an invalid value.
func (v OrdType) String() string { return ordTypeTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v OrdType) Valid() bool { return ordTypeTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v OrdType) MarshalText() ([]byte, error) { return ordTypeTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseOrdType).
func (v *OrdType) UnmarshalText(b []byte) error {
	x, err := ordTypeTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = OrdType(x)
	return nil
}

// FIXCode returns the FIX tag 40 value ("1" for OrdTypeMarket), or "" for an
// invalid value.
func (v OrdType) FIXCode() string { return ordTypeTable.fixCode(uint8(v)) }

// OrdTypeFromFIX maps a FIX tag 40 value to a OrdType. The error wraps
// ErrInvalidEnum.
func OrdTypeFromFIX(code string) (OrdType, error) {
	v, err := ordTypeTable.fromFIX(code)
	return OrdType(v), err
}

// TimeInForce is FIX tag 59: how long an order stays working. GTD (6) is not supported because Order has no expire time.
// The zero value is unset and not Valid.
type TimeInForce uint8

// TimeInForce values.
const (
	TimeInForceDay TimeInForce = iota + 1 // DAY, FIX 0
	TimeInForceGTC                        // GTC, FIX 1: good till cancel
	TimeInForceOPG                        // OPG, FIX 2: at the opening
	TimeInForceIOC                        // IOC, FIX 3: immediate or cancel
	TimeInForceFOK                        // FOK, FIX 4: fill or kill
	TimeInForceGTX                        // GTX, FIX 5: good till crossing (post only)
)

var timeInForceTable = enumTable{enum: "TimeInForce", defs: []enumDef{
	{},
	TimeInForceDay: {name: "DAY", fix: "0"},
	TimeInForceGTC: {name: "GTC", fix: "1"},
	TimeInForceOPG: {name: "OPG", fix: "2"},
	TimeInForceIOC: {name: "IOC", fix: "3"},
	TimeInForceFOK: {name: "FOK", fix: "4"},
	TimeInForceGTX: {name: "GTX", fix: "5"},
}}

// ParseTimeInForce parses a TimeInForce name in any case (e.g. "day"). The error
// wraps ErrInvalidEnum and names the value.
func ParseTimeInForce(s string) (TimeInForce, error) {
	v, err := timeInForceTable.parse(s)
	return TimeInForce(v), err
}

// String returns the canonical name, or "TimeInForce(n)" for an invalid value.
func (v TimeInForce) String() string { return timeInForceTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v TimeInForce) Valid() bool { return timeInForceTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v TimeInForce) MarshalText() ([]byte, error) { return timeInForceTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseTimeInForce).
func (v *TimeInForce) UnmarshalText(b []byte) error {
	x, err := timeInForceTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = TimeInForce(x)
	return nil
}

// FIXCode returns the FIX tag 59 value ("0" for TimeInForceDay), or "" for an
// invalid value.
func (v TimeInForce) FIXCode() string { return timeInForceTable.fixCode(uint8(v)) }

// TimeInForceFromFIX maps a FIX tag 59 value to a TimeInForce. The error wraps
// ErrInvalidEnum.
func TimeInForceFromFIX(code string) (TimeInForce, error) {
	v, err := timeInForceTable.fromFIX(code)
	return TimeInForce(v), err
}

// SignalAction is what a strategy's Signal recommends.
// The zero value is unset and not Valid.
type SignalAction uint8

// SignalAction values.
const (
	SignalBuy  SignalAction = iota + 1 // BUY
	SignalSell                         // SELL
	SignalHold                         // HOLD
)

var signalActionTable = enumTable{enum: "SignalAction", defs: []enumDef{
	{},
	SignalBuy:  {name: "BUY", fix: ""},
	SignalSell: {name: "SELL", fix: ""},
	SignalHold: {name: "HOLD", fix: ""},
}}

// ParseSignalAction parses a SignalAction name in any case (e.g. "buy"). The error
// wraps ErrInvalidEnum and names the value.
func ParseSignalAction(s string) (SignalAction, error) {
	v, err := signalActionTable.parse(s)
	return SignalAction(v), err
}

// String returns the canonical name, or "SignalAction(n)" for an invalid value.
func (v SignalAction) String() string { return signalActionTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v SignalAction) Valid() bool { return signalActionTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v SignalAction) MarshalText() ([]byte, error) { return signalActionTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseSignalAction).
func (v *SignalAction) UnmarshalText(b []byte) error {
	x, err := signalActionTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = SignalAction(x)
	return nil
}

// TakerOrMaker is whether the trade's reference side took or made liquidity (CCXT takerOrMaker).
// The zero value is unset and not Valid.
type TakerOrMaker uint8

// TakerOrMaker values.
const (
	Taker TakerOrMaker = iota + 1 // TAKER
	Maker                         // MAKER
)

var takerOrMakerTable = enumTable{enum: "TakerOrMaker", defs: []enumDef{
	{},
	Taker: {name: "TAKER", fix: ""},
	Maker: {name: "MAKER", fix: ""},
}}

// ParseTakerOrMaker parses a TakerOrMaker name in any case (e.g. "taker"). The error
// wraps ErrInvalidEnum and names the value.
func ParseTakerOrMaker(s string) (TakerOrMaker, error) {
	v, err := takerOrMakerTable.parse(s)
	return TakerOrMaker(v), err
}

// String returns the canonical name, or "TakerOrMaker(n)" for an invalid value.
func (v TakerOrMaker) String() string { return takerOrMakerTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v TakerOrMaker) Valid() bool { return takerOrMakerTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v TakerOrMaker) MarshalText() ([]byte, error) { return takerOrMakerTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseTakerOrMaker).
func (v *TakerOrMaker) UnmarshalText(b []byte) error {
	x, err := takerOrMakerTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = TakerOrMaker(x)
	return nil
}

// BookKind is whether an OrderBook is a full snapshot or a delta on the previous state.
// The zero value is unset and not Valid.
type BookKind uint8

// BookKind values.
const (
	BookSnapshot BookKind = iota + 1 // SNAPSHOT: a full book; every level has a positive amount
	BookDelta                        // DELTA: changed levels; amount 0 removes the level
)

var bookKindTable = enumTable{enum: "BookKind", defs: []enumDef{
	{},
	BookSnapshot: {name: "SNAPSHOT", fix: ""},
	BookDelta:    {name: "DELTA", fix: ""},
}}

// ParseBookKind parses a BookKind name in any case (e.g. "snapshot"). The error
// wraps ErrInvalidEnum and names the value.
func ParseBookKind(s string) (BookKind, error) {
	v, err := bookKindTable.parse(s)
	return BookKind(v), err
}

// String returns the canonical name, or "BookKind(n)" for an invalid value.
func (v BookKind) String() string { return bookKindTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v BookKind) Valid() bool { return bookKindTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v BookKind) MarshalText() ([]byte, error) { return bookKindTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseBookKind).
func (v *BookKind) UnmarshalText(b []byte) error {
	x, err := bookKindTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = BookKind(x)
	return nil
}

// OrderAction is what an Order request asks for (FIX NewOrderSingle, OrderCancelRequest, OrderCancelReplaceRequest).
// The zero value is unset and not Valid.
type OrderAction uint8

// OrderAction values.
const (
	OrderNew     OrderAction = iota + 1 // NEW
	OrderCancel                         // CANCEL
	OrderReplace                        // REPLACE
)

var orderActionTable = enumTable{enum: "OrderAction", defs: []enumDef{
	{},
	OrderNew:     {name: "NEW", fix: ""},
	OrderCancel:  {name: "CANCEL", fix: ""},
	OrderReplace: {name: "REPLACE", fix: ""},
}}

// ParseOrderAction parses a OrderAction name in any case (e.g. "new"). The error
// wraps ErrInvalidEnum and names the value.
func ParseOrderAction(s string) (OrderAction, error) {
	v, err := orderActionTable.parse(s)
	return OrderAction(v), err
}

// String returns the canonical name, or "OrderAction(n)" for an invalid value.
func (v OrderAction) String() string { return orderActionTable.str(uint8(v)) }

// Valid reports whether v is one of the defined values (not unset).
func (v OrderAction) Valid() bool { return orderActionTable.valid(uint8(v)) }

// MarshalText implements encoding.TextMarshaler; an invalid value is an
// error wrapping ErrInvalidEnum.
func (v OrderAction) MarshalText() ([]byte, error) { return orderActionTable.marshal(uint8(v)) }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseOrderAction).
func (v *OrderAction) UnmarshalText(b []byte) error {
	x, err := orderActionTable.parseBytes(b)
	if err != nil {
		return err
	}
	*v = OrderAction(x)
	return nil
}
