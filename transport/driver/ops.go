package driver

import "context"

// The operations below are optional: a driver implements those its broker
// can answer, and the core (transport.Transport's Ping, transport.Lag,
// transport.DeleteGroup) reports transport.ErrNotSupported for the others.
// The core validates group and pattern, and refuses DeleteGroup while a
// subscription of the group is open in its own process, before it calls
// the driver.

// Pinger is a driver that can check its broker connection.
type Pinger interface {
	// Ping makes a round trip to the broker within ctx (as few requests
	// as it takes to show the connection works) and returns nil if the
	// broker answered. It returns transport.ErrClosed after Close.
	Ping(ctx context.Context) error
}

// Inspector is a driver that reports how far a consumer group is behind.
type Inspector interface {
	// Lag returns the backlog of group subscribed to pattern, as the
	// broker reports it now: a small number of requests, no scan of the
	// messages, so that it can be called periodically (a metrics gauge).
	// A group of which the broker keeps no state gives an error wrapping
	// transport.ErrGroupNotFound, unless the driver's groups start at the
	// oldest retained message (Kafka), where it reports what a new group
	// would read. It returns transport.ErrClosed after Close.
	Lag(ctx context.Context, group, pattern string) (GroupLag, error)
}

// GroupDeleter is a driver that can remove a consumer group's broker-side
// state.
type GroupDeleter interface {
	// DeleteGroup removes the broker-side state of group subscribed to
	// pattern — the queue, consumer group or durable consumer that
	// Subscribe and Prepare create, with what it holds for the group — and
	// nothing that other groups use (exchanges, topics, streams stay). A
	// later Subscribe starts as a group that never existed. It returns an
	// error wrapping transport.ErrGroupNotFound if there is nothing to
	// delete, and transport.ErrGroupInUse (deleting nothing) where the
	// broker says the group still has members.
	DeleteGroup(ctx context.Context, group, pattern string) error
}

// Unknown is the value of a GroupLag count the broker does not report.
const Unknown = -1

// GroupLag is the backlog of one consumer group on one pattern. A count is
// Unknown (-1) where the broker does not report it; what each transport
// reports is listed in the README ("Operations").
type GroupLag struct {
	// Pending counts messages stored for the group and not yet delivered
	// to any member.
	Pending int64
	// InFlight counts messages delivered to a member and not yet acked
	// (they return to the group if the member goes away).
	InFlight int64
	// Unacked counts messages stored for the group and not yet acked:
	// Pending + InFlight.
	Unacked int64
	// Partitions details Unacked per partition where the broker has
	// partitions (Kafka), sorted by partition; nil elsewhere.
	Partitions []PartitionLag
}

// PartitionLag is how far a consumer group is behind on one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset (the next record it will
	// read), or -1 if it has committed none (it then starts at Start).
	Committed int64
	// Start is the oldest retained offset, End the high watermark (one
	// past the newest record).
	Start, End int64
	// Lag is the number of records the group has not handled yet:
	// End - Committed, or End - Start without a commit.
	Lag int64
}
