// Package mem is an in-process broker with the semantics of the real
// ones, so that tests on it mean something: topic routing with wildcards,
// consumer groups, ack/nack with redelivery, per-partition-key order,
// bounded buffers with backpressure and key-ordered concurrency.
//
// Open it with a mem:// URL (see Open) or New. It implements
// transport.Transport: the publisher's Watermill topic is the routing key
// ("trade.binance.BTCUSDT"), a subscriber's topic is a pattern
// ("trade.*.BTCUSDT", "trade.#"; '*' one segment, '#' zero or more,
// RabbitMQ topic semantics).
//
// # Delivery semantics
//
// A subscription queue is a consumer group bound with one pattern, like a
// RabbitMQ queue named after group and pattern. It is created by the first
// Subscribe (or SubscribeInitialize) of that group and pattern and lives
// until the Transport is closed, also while it has no member. Publish puts
// a copy of each message into every queue whose pattern matches the
// routing key and returns once all copies are enqueued; a key no queue
// matches is dropped (unless kept in the history, below). A queue receives
// only what is published after it was created: a group that subscribes
// later does not see older messages, also with history.
//
// Each queue delivers every message to one of its members (Subscribe calls
// with that group and pattern; several Subscribers of one group may join),
// which share the load. Each delivery is a fresh *message.Message with its
// own copy of payload and metadata; "routingkey" metadata is set to the
// publish topic when the message lacks it. Its context is new (derived from
// the Subscribe ctx, cancelled once the message is acked or nacked): the
// publisher's context does not travel, as on a real broker.
//
// Delivery is at least once. A nacked message is delivered again after a
// backoff (WithRedeliveryBackoff: 10 ms, doubling, at most 1 s), before
// any later message of its partition key. A message whose member goes away
// (its Subscribe ctx is done, or its Subscriber is closed) before acking it
// goes to another member, or waits for the next one; an ack that arrives
// later is ignored. Messages with the
// same "partitionkey" metadata are delivered in publish order, one at a
// time, within a queue — also across members. Messages without it share
// the key "".
//
// Nothing is persistent: messages still queued when the Transport is closed
// are discarded, and nothing survives the process.
//
// # History
//
// By default the broker keeps no history: transport.Read and
// transport.Follow fail with an error wrapping transport.ErrNotReplayable
// and messages carry no Position. WithHistory(n) (URL history=N) makes it
// keep the last n messages published of each kind (the first segment of
// the routing key, like a Redis Streams or JetStream stream per kind),
// whether or not a queue matches them; storing one more evicts the
// oldest. Then Read and Follow work as on the brokers that keep history
// (Driver.Read), and every message, read or received by a subscription,
// carries its Position (transport.PositionFromContext): Stream the kind,
// Partition 0, Offset its sequence number in the kind in decimal, from 1.
// Positions are per Transport: a new one counts from 1 again. A follower
// more than n messages behind misses the evicted ones. The history is
// discarded by Close, which ends every follower with ErrClosed.
//
// Memory is bounded: each queue holds at most WithBuffer messages (1024)
// plus WithConcurrency (64) in flight plus one its dispatcher is handing
// over, and the history at most WithHistory messages per kind. When a queue is full — for example
// a group that nobody consumes any more — Publish waits until the
// message's context is done (OverflowBlock, the default) or fails with
// ErrBufferFull (OverflowFail). A handler that publishes, without a
// deadline, into a full queue it consumes itself waits forever: give such
// messages a context with a deadline, or use OverflowFail.
//
// # Errors
//
// Publish and Subscribe reject an invalid routing key or pattern with an
// error wrapping events.ErrInvalidRoutingKey. Publish, Subscribe and
// Subscriber return ErrClosed after Close. Publish returns a
// *BufferFullError (errors.Is ErrBufferFull) under OverflowFail, and the
// context's error (wrapped) when it gave up waiting for room under
// OverflowBlock. New and Open return errors wrapping ErrInvalidOption for
// bad options and URLs; Subscriber returns ErrInvalidGroup for an empty
// group name. Close returns an error wrapping ctx.Err() when in-flight
// deliveries were not acked or nacked before ctx was done.
//
// # Concurrency
//
// Transport, Publisher and Subscriber are safe for concurrent use. Each
// queue hands its members up to WithConcurrency messages at once (64; 1
// means one at a time, like Watermill's GoChannel), never two of one
// partition key: different symbols are handled in parallel, each symbol in
// order. Watermill's router runs each received message on its own
// goroutine, so this is the handler concurrency too. Every goroutine the
// Transport starts ends in Close, which first waits (within its ctx) for
// handlers to ack or nack what they were given.
package mem
