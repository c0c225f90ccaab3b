package middleware

import "github.com/tradebus/tradebus/transport"

// Metadata keys this package adds to messages. They are lowercase, carry the
// "tradebus_" prefix so they never collide with the CloudEvents envelope
// (package events), and travel as broker headers like any other metadata.
const (
	// MetaPoisonReason is the error text of the failure that poisoned the message.
	MetaPoisonReason = "tradebus_poison_reason"
	// MetaPoisonClass is the ErrorClass of that failure: "permanent", "transient" or "panic".
	MetaPoisonClass = "tradebus_poison_class"
	// MetaPoisonRoutingKey is the routing key the message was originally
	// published to; Replay republishes there.
	MetaPoisonRoutingKey = "tradebus_poison_routingkey"
	// MetaPoisonTopic is the subscription topic (pattern) the handler consumed from.
	MetaPoisonTopic = "tradebus_poison_topic"
	// MetaPoisonHandler is the Watermill handler name.
	MetaPoisonHandler = "tradebus_poison_handler"
	// MetaPoisonGroup is the consumer group (WithConsumerGroup), empty when not set.
	MetaPoisonGroup = "tradebus_poison_group"
	// MetaPoisonSubscriberGroup is the consumer group of the subscription
	// the message failed in, as the transport knows it
	// (transport.GroupFromContext); empty when the message did not come
	// from a tradebus transport. Replay addresses the replayed message to
	// this group (MetaReplayGroup).
	MetaPoisonSubscriberGroup = "tradebus_poison_subscriber_group"
	// MetaPoisonAttempts is the number of handler attempts (decimal), across requeues.
	MetaPoisonAttempts = "tradebus_poison_attempts"
	// MetaPoisonFirstFailure and MetaPoisonLastFailure are RFC 3339 (ns) times.
	MetaPoisonFirstFailure = "tradebus_poison_first_failure"
	MetaPoisonLastFailure  = "tradebus_poison_last_failure"
	// MetaPoisonStack is the goroutine stack of a recovered panic (class "panic"
	// only), truncated to 8 KiB.
	MetaPoisonStack = "tradebus_poison_stack"

	// MetaPoisonClaim is set on a dead letter whose original was too big for
	// the broker: the original body and metadata are in the ClaimStore under
	// this id (the message UUID), and the dead letter carries neither.
	MetaPoisonClaim = "tradebus_poison_claim"
	// MetaPoisonDropped is set instead of MetaPoisonClaim when no ClaimStore
	// was configured: it says what was dropped and why.
	MetaPoisonDropped = "tradebus_poison_dropped"

	// MetaRetryAttempts is the number of handler attempts a requeued message has had.
	MetaRetryAttempts = "tradebus_retry_attempts"
	// MetaRetryRequeues is how many times the message was requeued.
	MetaRetryRequeues = "tradebus_retry_requeues"
	// MetaRetryAfter is the RFC 3339 (ns) time before which a requeued message
	// is not handled again. Every requeued copy has it: Retry reads the other
	// MetaRetry* keys of a message only when it is there.
	MetaRetryAfter = "tradebus_retry_after"
	// MetaRetryFirstFailure is the RFC 3339 (ns) time of the first failure.
	MetaRetryFirstFailure = "tradebus_retry_first_failure"
	// MetaRetryHandler and MetaRetryGroup address a requeued copy to the
	// handler (and consumer group) that requeued it; other handlers skip it.
	MetaRetryHandler = "tradebus_retry_handler"
	MetaRetryGroup   = "tradebus_retry_group"

	// MetaReplayCount is how many times the message was replayed from the
	// poison queue; MetaReplayedAt the RFC 3339 (ns) time of the last replay.
	MetaReplayCount = "tradebus_replay_count"
	MetaReplayedAt  = "tradebus_replayed_at"
	// MetaReplayGroup addresses a replayed message to the consumer group
	// that failed it: the transports' subscriptions of every other group
	// ack it unseen (transport.MetaReplayGroup). The poison middleware
	// removes it from a dead letter, so the dead-letter reader sees it.
	MetaReplayGroup = transport.MetaReplayGroup
)

// Bounds of the metadata the poison middleware derives, so that a dead
// letter's size is predictable: a stack trace is truncated to maxStackMeta
// bytes, the reason to MaxPoisonReasonBytes, and each envelope value kept
// on a slim dead letter (one whose original was too big) to
// maxSlimValueBytes.
const (
	maxStackMeta         = 8 << 10
	MaxPoisonReasonBytes = 1 << 10
	maxSlimValueBytes    = 256
)
