package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// ErrNotReplayable is wrapped by the error Read returns on a transport
// that keeps no history to read again (RabbitMQ, mem without history).
var ErrNotReplayable = errors.New("transport: keeps no history to replay")

// Position is where a message is stored on a broker that keeps history:
// Stream (Kafka topic, Redis stream key, JetStream stream), Partition
// (Kafka; 0 elsewhere) and Offset (Kafka offset, JetStream stream sequence
// in decimal; Redis entry id). A subscription's and Read's messages carry
// it in their context (PositionFromContext); save it to resume a Read
// after it with FromPosition.
type Position = driver.Position

// From is where Read starts: FromBeginning, FromPosition or FromTime.
type From = driver.Start

// FromBeginning starts at the oldest retained message.
func FromBeginning() From { return From{At: driver.StartBeginning} }

// FromPosition starts just after the given positions — the next message
// after each, as when resuming after the last message handled. A
// partition none of them names starts at its oldest retained message.
func FromPosition(ps ...Position) From { return From{At: driver.StartAfter, Positions: ps} }

// FromTime starts at the first message stored at or after t (the broker's
// timestamp, millisecond precision).
func FromTime(t time.Time) From { return From{At: driver.StartTime, Time: t} }

// Replayable reports whether tr keeps history that Read and Follow can
// read: Kafka, Redis Streams, NATS JetStream, and mem with a history
// (mem.WithHistory, history=N).
func Replayable(tr Transport) bool {
	p, ok := tr.(interface{ Driver() driver.Driver })
	if !ok {
		return false
	}
	d := p.Driver()
	if _, ok := d.(driver.Reader); !ok {
		return false
	}
	if h, ok := d.(interface{ Replayable() bool }); ok {
		return h.Replayable()
	}
	return true
}

type positionKey struct{}

// PositionFromContext returns the broker position of the message whose
// context ctx is (msg.Context() of a subscription's or Read's message);
// ok is false when the transport keeps no history or ctx is not such a
// context.
func PositionFromContext(ctx context.Context) (p Position, ok bool) {
	pp, _ := ctx.Value(positionKey{}).(*Position)
	if pp == nil {
		return Position{}, false
	}
	return *pp, true
}

// Read calls fn with the messages of tr stored for pattern, from from up
// to the newest message stored when Read starts, oldest first within each
// partition (Kafka interleaves partitions; Redis and JetStream keep one
// order per kind), until fn returns false or none is left; then it
// returns. It is a reader, not a consumer group: it acks, commits and
// creates nothing durable, and every Read sees the same history. Each
// message's context is ctx with its Position (PositionFromContext). Only
// messages matching pattern are passed; copies put back for one group
// (MetaReplayGroup, middleware.Replay) are left out, their originals being
// in the history already.
//
// tr must run on the portable core with a driver implementing
// driver.Reader (Kafka, Redis Streams, NATS JetStream, mem with
// mem.WithHistory); on any other (RabbitMQ, mem without history) Read
// returns an error wrapping ErrNotReplayable. It is safe for concurrent
// use.
func Read(ctx context.Context, tr Transport, pattern string, from From, fn func(*message.Message) bool) error {
	from.Follow = false
	return read(ctx, "read", tr, pattern, from, fn)
}

// Follow is Read that does not stop at the newest stored message: it
// passes the history from from and then every message stored later, as it
// is stored (a stream that does not exist yet is waited for), until fn
// returns false (Follow returns nil) or ctx is done (Follow returns an
// error wrapping ctx.Err()). Like Read it joins no group and commits
// nothing: a follower that restarts resumes where it says, with
// FromPosition. Each message's context carries its Position.
//
// Read to the head first and then Follow from the positions it reached to
// know when a rebuild has caught up (package projection does).
func Follow(ctx context.Context, tr Transport, pattern string, from From, fn func(*message.Message) bool) error {
	from.Follow = true
	return read(ctx, "follow", tr, pattern, from, fn)
}

func read(ctx context.Context, op string, tr Transport, pattern string, from From, fn func(*message.Message) bool) error {
	if fn == nil {
		return fmt.Errorf("%w: nil read func", ErrInvalidOption)
	}
	if err := events.ValidatePattern(pattern); err != nil {
		return err
	}
	p, ok := tr.(interface{ Driver() driver.Driver })
	if !ok {
		return fmt.Errorf("%w: %s: %T does not run on the portable core", ErrNotReplayable, op, tr)
	}
	d := p.Driver()
	r, ok := d.(driver.Reader)
	if !ok {
		return fmt.Errorf("%w: %s: %s", ErrNotReplayable, op, d.Capabilities().Name)
	}
	err := r.Read(ctx, pattern, from, func(dm *driver.Message) bool {
		if !events.MatchPattern(pattern, dm.Key) {
			return true
		}
		if _, ok := dm.Metadata[MetaReplayGroup]; ok {
			return true
		}
		md := dm.Metadata
		if md == nil {
			md = make(message.Metadata)
		}
		// Nothing settles a message Read passes: as the consume path's
		// (consumer.newMessage), it is built without the Acked and Nacked
		// channels and the empty metadata map message.NewMessage makes,
		// three allocations fewer per message of a rebuild (Watermill's
		// Ack and Nack work on such a message).
		msg := &message.Message{UUID: dm.UUID, Metadata: md, Payload: dm.Payload}
		pos := dm.Position
		msg.SetContext(context.WithValue(ctx, positionKey{}, &pos))
		return fn(msg)
	})
	if err != nil {
		return fmt.Errorf("%s: %s pattern %s: %w", d.Capabilities().Name, op, pattern, err)
	}
	return nil
}
