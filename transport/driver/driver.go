// Package driver defines the interface a message broker implements to be a
// tradebus transport. Application code does not use it: it uses package
// transport, whose portable core (transport.New) turns a Driver into an
// ordinary Watermill message.Publisher / message.Subscriber with
// pipelined publishing, key-ordered dispatch, batched acks, redelivery
// backoff, validation, one set of errors and one Close.
//
// A driver only moves batches. It never retries, never hides an error, and
// starts no goroutine beyond what its client library needs; everything that
// is the same on every broker lives in the core, once. The split follows
// go-cloud's pubsub/driver (Topic.SendBatch, Subscription.ReceiveBatch,
// SendAcks).
//
// # Concurrency
//
// The core calls Topic.SendBatch from many goroutines at once. It calls
// ReceiveBatch of one Subscription from one goroutine at a time, and
// SendAcks / SendNacks from one (other) goroutine at a time; a driver must
// allow ReceiveBatch to run concurrently with SendAcks and SendNacks.
//
// # Errors
//
// A driver returns the core's sentinels where they apply (for instance
// transport.ErrClosed after Close): the core wraps, logs and reports; it
// does not translate.
package driver

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/url"
	"time"
)

// Message is one message crossing the driver boundary.
//
// On send, the core fills UUID, Key, PartitionKey, Metadata and Payload;
// the driver must not modify them or keep them after SendBatch returns.
// Metadata already contains "routingkey" and "partitionkey" (the same
// values as Key and PartitionKey); a driver carries every entry as broker
// headers and gives them back on receive.
//
// On receive, the driver fills every field; AckID is what the core passes
// back to SendAcks / SendNacks. Metadata and Payload belong to the core
// from then on.
type Message struct {
	UUID         string
	Key          string // routing key, e.g. "trade.binance.BTCUSDT"
	PartitionKey string // ordering key (the symbol); "" = none
	Metadata     map[string]string
	Payload      []byte
	// MetadataHandedOver, on a sent message, says that the sender will
	// neither read nor modify Metadata once SendBatch returned: a driver
	// that keeps messages in process (mem) may hand the map itself to a
	// subscriber instead of a copy. False: the sender may reuse the map.
	MetadataHandedOver bool

	// AckID identifies a received message to its driver.
	AckID AckID
	// Deliveries counts how often the broker has delivered this message,
	// 1 for the first time, 0 when the broker does not say.
	Deliveries int
	// Position is where the broker stores the message; zero where it
	// keeps no history (the core then adds nothing to the context).
	Position Position
}

// AckID identifies a received message to its driver. Drivers use any
// comparable-or-not value they like (a delivery tag, an offset, a stream
// entry id, a *jetstream.Msg).
type AckID any

// Topic sends messages. One Topic serves every routing key.
type Topic interface {
	// SendBatch sends msgs, each to its own Key, pipelined (many in flight
	// at once), and returns when the broker has confirmed every one, or with
	// an error. Messages that share a PartitionKey are sent in slice order
	// and the broker keeps that order. When some messages failed and the
	// others are known to be stored, the error is a *SendError naming the
	// failed ones; any other error means none of msgs may be assumed
	// stored. SendBatch honours ctx for the whole call.
	SendBatch(ctx context.Context, msgs []*Message) error
}

// PipelinedTopic is implemented by a Topic that can keep several batches
// of one partition key in flight and still store them in order, so that a
// sender need not wait for a batch's confirms before sending the key's
// next one. SendPipelined hands msgs to the broker connection, in order,
// and returns without waiting for the broker; wait then waits for the
// broker's confirms and returns what SendBatch would have. Every message
// of a SendPipelined call that starts after an earlier call returned is
// stored after the earlier call's messages of its PartitionKey, unless
// those failed (a failed message leaves a gap). ctx bounds both steps.
// When err is not nil nothing is in flight and wait is nil; otherwise the
// caller must call wait once. A call the driver cannot pipeline (a
// configuration that needs a channel per call) may send and wait for the
// whole batch before returning, wait then returning its outcome.
type PipelinedTopic interface {
	SendPipelined(ctx context.Context, msgs []*Message) (wait func() error, err error)
}

// SendError reports which messages of a SendBatch call failed; the others
// were confirmed by the broker.
type SendError struct {
	Failed map[int]error // index in the batch -> cause
}

func (e *SendError) Error() string {
	for i, err := range e.Failed {
		if len(e.Failed) == 1 {
			return "message " + itoa(i) + " not stored: " + err.Error()
		}
		return itoa(len(e.Failed)) + " messages not stored, e.g. message " + itoa(i) + ": " + err.Error()
	}
	return "no message failed"
}

// Unwrap returns the causes.
func (e *SendError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		errs = append(errs, err)
	}
	return errs
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// Subscription receives the messages of one consumer group whose routing
// keys match one pattern. Every group receives every matching message;
// the subscriptions of one group (in this process or others) share them.
type Subscription interface {
	// ReceiveBatch blocks until at least one message is available, ctx is
	// done or the subscription is closed, and returns at most max messages.
	// It may return messages whose key does not match the pattern (a driver
	// that can only subscribe to a whole kind): the core acks those without
	// handing them out. An error is returned only for a failure the
	// subscription cannot recover from by itself; transient broker errors
	// (reconnects) are the driver's to ride out inside ReceiveBatch, bounded
	// by ctx, with the client library's own mechanisms.
	ReceiveBatch(ctx context.Context, max int) ([]*Message, error)
	// SendAcks acknowledges messages: the broker removes them for this
	// group (Kafka: commits the contiguous acked prefix of each partition).
	SendAcks(ctx context.Context, ids []AckID) error
	// SendNacks gives messages back to the broker for redelivery as soon as
	// possible, to this or another subscription of the group. The core uses
	// it only when it stops with messages not yet handled; redelivery after
	// a handler's nack is the core's (in-process, in key order, with
	// backoff).
	SendNacks(ctx context.Context, ids []AckID) error
	// Close releases the subscription. Messages received and neither acked
	// nor nacked are redelivered by the broker later (at least once). Close
	// is called once, after the last ReceiveBatch, SendAcks and SendNacks
	// returned.
	Close(ctx context.Context) error
}

// Driver is one broker connection.
type Driver interface {
	// Topic returns the driver's Topic.
	Topic() Topic
	// Subscribe opens a subscription of group to pattern. group and pattern
	// have been validated by the core (transport.ValidateGroup,
	// events.ValidatePattern). The broker-side group state (queue, consumer
	// group, durable consumer) is created if missing.
	Subscribe(ctx context.Context, group, pattern string) (Subscription, error)
	// Prepare creates the broker-side state of (group, pattern) without
	// subscribing, so that messages published from now on are kept for the
	// group (Watermill's SubscribeInitialize). A driver whose groups start
	// at the oldest retained message may do nothing.
	Prepare(ctx context.Context, group, pattern string) error
	// Capabilities states the driver's limits and guarantees.
	Capabilities() Capabilities
	// Close closes the broker connection. The core calls it once, after
	// every Subscription was closed and no SendBatch is running.
	Close(ctx context.Context) error
}

// Capabilities are a driver's limits and guarantees, read by the core and
// by the conformance suite (transport/transporttest).
type Capabilities struct {
	// Name is the driver's name in errors and logs ("amqp", "kafka", …).
	Name string
	// MaxMessageBytes bounds payload plus headers of one message; 0 = no
	// stated bound. The core rejects a bigger message before sending it
	// (the driver does, with ChecksSizes).
	MaxMessageBytes int
	// MaxHeaderBytes bounds the encoded metadata of one message; 0 = no
	// stated bound (MaxMessageBytes applies).
	MaxHeaderBytes int
	// KeepsHistory: a new group can read messages published before it
	// existed (Kafka, Redis Streams, JetStream).
	KeepsHistory bool
	// DurableGroups: a group keeps the messages published while it has no
	// subscription, across process restarts.
	DurableGroups bool
	// SharedGroups: several subscriptions of one group share its messages
	// (if false, the core still delivers every message to the group once).
	SharedGroups bool
	// OrderAcrossMembers: per-partition-key order holds within a group
	// even when it has several subscriptions.
	OrderAcrossMembers bool
	// Redelivers: the broker redelivers a message that was received and
	// never acked after a crash (false only for in-process transports).
	Redelivers bool
	// ChecksSizes: SendBatch itself rejects, before sending any of its
	// messages, one over MaxMessageBytes or MaxHeaderBytes, counted as the
	// core counts (transport.MetadataSize of the metadata plus the UUID,
	// and the payload for MaxMessageBytes), with a *transport.TooLargeError;
	// the core then does not count (a driver that reads every metadata entry
	// anyway counts in the same pass).
	ChecksSizes bool
	// ReleasesMetadata: the driver reads a sent message's Metadata only
	// while SendBatch (or SendPipelined and its wait) runs and keeps no reference to the map (nor to the
	// message) once it returned, however it returns, so that the sender
	// may reuse the map for its next messages. False (the safe default):
	// the map may be kept, as mem hands it to a subscriber.
	ReleasesMetadata bool
}

// Opener opens a Driver from a URL whose query holds only the driver's own
// parameters (the core has removed and parsed the common ones), and env. It
// returns an error wrapping transport.ErrInvalidOption for an unknown or
// bad parameter.
type Opener func(ctx context.Context, u *url.URL, env Env) (Driver, error)

// Env is what transport.Open gives every driver besides its URL: the
// options that mean the same on every broker. A zero field leaves the
// driver's default.
type Env struct {
	// Logger is transport.WithLogger's: the driver logs through it
	// (connection losses, reconnects, its client's warnings).
	Logger *slog.Logger
	// TLS is transport.WithTLSConfig's: the broker client's TLS
	// configuration, taking precedence over TLS set up from the URL. The
	// driver must not modify it (it clones it).
	TLS *tls.Config
}

// Browser is implemented by a driver that can read what a group has not
// consumed yet without consuming it (transport.Browse; the dead-letter
// tooling lists a poison queue with it). It is optional.
type Browser interface {
	// Browse calls fn with the messages of (group, pattern) that the group
	// has not acked yet, oldest first where the broker keeps an order,
	// until fn returns false or none is left. It must not ack, claim,
	// requeue, append or move anything, and should not count a delivery
	// where the broker allows that; the driver documents exactly what it
	// shows and what, if anything, it changes. It creates no broker-side
	// state: for a group that has none, it shows what a new subscription
	// would receive. Messages whose key does not match pattern may be
	// passed (the core skips them). The messages passed belong to the
	// core; AckID is nil. Browse honours ctx for the whole call and may
	// run concurrently with everything else.
	Browse(ctx context.Context, group, pattern string, fn func(*Message) bool) error
}

// Position is where a message is stored in a broker that keeps history:
// the stream (Kafka topic, Redis stream key, JetStream stream), the
// partition within it (Kafka; 0 elsewhere) and the offset within that
// (Kafka offset and JetStream stream sequence in decimal, Redis entry id).
// A driver fills Message.Position on receive where the broker has one; the
// zero Position means none.
type Position struct {
	Stream    string
	Partition int32
	Offset    string
}

// IsZero reports whether p is the zero Position (none).
func (p Position) IsZero() bool { return p == Position{} }

// String returns "stream/partition/offset".
func (p Position) String() string {
	return p.Stream + "/" + itoa(int(p.Partition)) + "/" + p.Offset
}

// StartAt says where a Reader starts.
type StartAt int

// The starts of a Reader.
const (
	// StartBeginning: the oldest retained message.
	StartBeginning StartAt = iota
	// StartAfter: just after the given Positions (a partition not named
	// starts at its oldest retained message).
	StartAfter
	// StartTime: the first message stored at or after Time.
	StartTime
)

// Start is where a Reader starts reading.
type Start struct {
	At        StartAt
	Positions []Position // StartAfter
	Time      time.Time  // StartTime
	// Follow: do not stop at the newest message stored when Read starts;
	// pass it and then every message stored later, as it is stored, until
	// fn returns false (Read returns nil) or ctx is done (Read returns
	// ctx.Err()). A stream that does not exist yet is waited for.
	Follow bool
}

// Reader is implemented by a driver whose broker keeps history
// (transport.Read). It is optional. A driver whose history is configurable
// (mem) also has a method Replayable() bool saying whether it keeps one
// (transport.Replayable); Read then returns an error wrapping
// transport.ErrNotReplayable without one.
type Reader interface {
	// Read calls fn with the stored messages of pattern's streams from
	// start up to the newest message stored when Read starts, in storage
	// order within each partition, each with its Position, until fn
	// returns false or none is left (with start.Follow: until fn returns
	// false or ctx is done, see Start.Follow). It joins no group and changes
	// nothing on the broker (it may create a short-lived ephemeral
	// reader). Messages whose key does not match pattern may be passed
	// (the core skips them); AckID is nil and the messages belong to the
	// core. A stream that does not exist has nothing to read.
	Read(ctx context.Context, pattern string, start Start, fn func(*Message) bool) error
}
