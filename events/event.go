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
