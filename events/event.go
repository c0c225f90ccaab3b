package events

import "time"

// Event is implemented by every tradebus event type. All methods are
// defined on value receivers, so the zero value of an event type can be
// asked for its type name.
type Event interface {
	// EventType is the versioned CloudEvents type, e.g. "tradebus.trade.v1".
	EventType() string
	// RoutingKey is the dot-separated routing key built from the event's
	// fields, e.g. "trade.binance.BTCUSDT". Its first segment is the kind.
	RoutingKey() string
	// PartitionKey is the key that keeps events in order (the symbol).
	PartitionKey() string
	// OccurredAt is the exchange/occurrence time (nanosecond precision).
	OccurredAt() time.Time
	// Validate reports the first invalid field, naming the field and value.
	Validate() error
}

// Event kinds: the first segment of every routing key.
const (
	KindTicker   = "ticker"
	KindTrade    = "trade"
	KindBook     = "book"
	KindCandle   = "candle"
	KindSignal   = "signal"
	KindOrder    = "order"
	KindExec     = "exec"
	KindPosition = "position"
	KindBalance  = "balance"
)

// Versioned event type names (CloudEvents "type"). A breaking change to a
// type's JSON shape gets a new version and a new name.
const (
	TypeTicker          = "tradebus.ticker.v1"
	TypeTrade           = "tradebus.trade.v1"
	TypeOrderBook       = "tradebus.book.v1"
	TypeCandle          = "tradebus.candle.v1"
	TypeSignal          = "tradebus.signal.v1"
	TypeOrder           = "tradebus.order.v1"
	TypeExecutionReport = "tradebus.exec.v1"
	TypePosition        = "tradebus.position.v1"
	TypeBalance         = "tradebus.balance.v1"
)

// key3 and key4 build routing keys with one allocation.
func key3(kind, a, b string) string { return kind + "." + a + "." + b }

func key4(kind, a, b, c string) string { return kind + "." + a + "." + b + "." + c }

// AppendRoutingKey appends e.RoutingKey() to dst. For the market-data
// types (Trade, Ticker, OrderBook) it builds the key in place, so that a
// caller that needs it in a buffer of its own (the publisher, which puts
// an event's id, time and key in one string) saves an allocation.
func AppendRoutingKey(dst []byte, e Event) []byte {
	switch v := e.(type) {
	case Trade:
		return appendKey3(dst, KindTrade, v.Exchange, v.Symbol)
	case Ticker:
		return appendKey3(dst, KindTicker, v.Exchange, v.Symbol)
	case OrderBook:
		return appendKey3(dst, KindBook, v.Exchange, v.Symbol)
	}
	return append(dst, e.RoutingKey()...)
}

func appendKey3(dst []byte, kind, a, b string) []byte {
	dst = append(dst, kind...)
	dst = append(dst, '.')
	dst = append(dst, a...)
	dst = append(dst, '.')
	return append(dst, b...)
}
