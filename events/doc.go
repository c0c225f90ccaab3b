// Package events defines tradebus' event types, their exact Decimal
// numbers, enums, validation, routing keys, JSON codec and envelope
// metadata names. It imports no broker client and no Watermill code.
//
// # Event types
//
// Field names follow the CCXT unified structures for market data and FIX
// for the order lifecycle. Every type implements Event with value
// receivers:
//
//	type             EventType()             RoutingKey()                              PartitionKey()
//	Ticker           tradebus.ticker.v1      ticker.<exchange>.<symbol>                symbol
//	Trade            tradebus.trade.v1       trade.<exchange>.<symbol>                 symbol
//	OrderBook        tradebus.book.v1        book.<exchange>.<symbol>                  symbol
//	Candle           tradebus.candle.v1      candle.<exchange>.<symbol>.<interval>     symbol
//	Signal           tradebus.signal.v1      signal.<exchange>.<symbol>.<strategy>     symbol
//	Order            tradebus.order.v1       order.<exchange>.<symbol>                 symbol
//	ExecutionReport  tradebus.exec.v1        exec.<exchange>.<symbol>                  symbol
//	Position         tradebus.position.v1    position.<exchange>.<symbol>              symbol
//	Balance          tradebus.balance.v1     balance.<exchange>.<asset>                asset
//
// The rule behind the table: the first segment is the kind, the second the
// exchange (venue), the third the symbol (the asset for Balance), and a
// type-specific qualifier comes last. So "trade.*.BTCUSDT" is one symbol on
// every exchange, "candle.binance.*.1m" every one-minute bar on one
// exchange, and "signal.#" every signal. Every segment is checked with
// ValidateSegment by Validate, so a routing key built from a valid event is
// always a valid key. OccurredAt is the exchange/occurrence time
// (ExecutionReport: TransactTime) with nanosecond precision.
//
// # Decimals
//
// Every price, quantity, amount, fee and PnL is a Decimal: exact, at most
// 19 fractional digits and a 128-bit coefficient (up to 38 significant
// digits, as SQL's DECIMAL(38)), written as a JSON string
// ("0.000000000000000001"), never a float. Parsing a value with more
// places, multiplying into more places or dividing into a non-terminating
// quotient is an error wrapping ErrDecimal, never silent rounding; so is a
// value or result out of range (Add and Sub panic with that error, as an
// integer overflow made loud); MulRound, DivRound and Round round (half to
// even) when asked. A JSON number where a Decimal belongs is rejected.
// Optional decimal fields use 0 for "absent" and are omitted from JSON. A
// Decimal holds no pointer, so decoded order-book levels are memory the
// garbage collector does not scan.
//
// # Codec
//
// Marshal validates, then encodes JSON (RFC 3339 times with nanoseconds in
// UTC, enums by name); AppendMarshal does the same into a caller's buffer.
// Unmarshal[T] decodes and validates; unknown JSON fields are ignored so
// that a producer may add optional fields within a type version. The
// market-data types (Trade, Ticker, OrderBook) have hand-written encoders
// and decoders that produce exactly what encoding/json produces, with one
// allocation per Marshal (none per AppendMarshal into a large enough
// buffer) and at most one per Unmarshal (a trade's id, an order book's
// levels; exchange and symbol come from a small intern table of repeated
// strings); decoded values never refer to the input bytes. Decode(typeName, data) decodes any registered type for
// generic tools. Envelope metadata (CloudEvents attribute names, see
// MetaID and friends) travels beside the body, never inside it.
//
// # Custom event types
//
// An application's own event (a funding rate, a liquidation, a risk limit)
// is any type that implements Event with value receivers and encodes with
// encoding/json; use Decimal for every price and quantity (a JSON string,
// exact). The rules it follows, as the built-in types do (Register checks
// the first two):
//   - type name "<namespace>.<name>.v<version>", outside the namespace
//     "tradebus", which the built-in types own; a breaking change to the
//     JSON shape gets a new version;
//   - routing key: first segment a kind of its own (not a built-in kind,
//     nor "deadletter"), then exchange and symbol, then any qualifier, so
//     patterns such as "funding.*.BTCUSDT" work as for the built-in types;
//   - Validate checks every routing-key segment with ValidateSegment and
//     names the bad field and value in a *ValidationError, so a valid event
//     always has a valid key and a bad one is never published;
//   - PartitionKey is the key whose order matters (the symbol).
//
// Register[T] adds the type to Decode and Types for generic tools;
// publisher.Publish and subscriber.On[T] handle it without registration.
// The package tradebustest has the complete example (FundingRate).
//
// # Errors
//
// Every error can be matched with errors.Is / errors.As:
//   - ErrValidation / *ValidationError: an event breaks a rule; the error
//     names the type, the JSON field and the offending value.
//   - ErrDecode / *DecodeError: bytes are not a well-formed event of the
//     requested type; the cause (ErrDecimal, ErrInvalidEnum, a
//     *json.SyntaxError, ...) is reachable through Unwrap.
//   - ErrDecimal / *DecimalError: bad decimal text or an inexact operation.
//   - ErrInvalidEnum / *EnumError: an unknown enum name or FIX code.
//   - ErrUnknownType: Decode was given a type name no event registers.
//   - ErrRegister: Register refused a type (name, kind or duplicate).
//   - ErrInvalidRoutingKey / *RoutingError: a bad routing key or pattern.
//
// Decode and validation errors are permanent: redelivering the same bytes
// cannot succeed, so subscribers treat them as poison, never as retryable.
//
// # Concurrency
//
// Event values, Decimal and the enums are immutable values; all functions
// in this package are safe for concurrent use, Register included.
package events
