// Package redisstream is the tradebus driver for Redis Streams (redis://
// and rediss:// URLs), written directly on go-redis. It moves batches; the
// portable core (package transport) does the rest: use it through
// transport.Open("redis://host:6379/0?…") or
// transport.New(redisstream.NewDriver(client, …), transport.With…(…)).
// Importing the package registers its schemes.
//
// Layout: events of kind k (the first routing-key segment) are appended to
// the stream <prefix>k ("tradebus:trade") with XADD, one field each for
// "uuid", "routingkey", "payload" and every metadata entry as
// "meta:<key>" (CloudEvents names: "meta:id", "meta:type", …), readable
// with redis-cli. A subscription of tradebus group g to pattern p reads the
// stream of p's kind as Redis consumer group "g:p" (one Redis group per
// pattern, so two patterns of one tradebus group both see every event they
// match); the core matches the other segments of p and acknowledges
// entries that do not match without handing them out.
//
// # Delivery semantics
//
// At-least-once. The core acknowledges an entry (XACK, batched: one
// command per batch of acks) after the handler acked it; a handler's nack
// is redelivered by the core, in process and in key order.
//
// A consumer's entries that are read but not acked are pending in Redis.
// While a subscription lives, a heartbeat renews them every
// WithClaimIdle/3 (XPENDING for this consumer, then XCLAIM … JUSTID to
// itself), so slow handlers and read-ahead are not robbed. Entries of a
// consumer that died are claimed by another subscription of the group
// once idle for WithClaimIdle (XAUTOCLAIM, at start and every
// WithClaimIdle/2, inside ReceiveBatch), or re-read at once by a
// subscription that uses the same consumer name (WithConsumerName; within
// one Driver the name is reused as soon as it is free). What the core gives
// back when it stops (SendNacks) stays pending in this consumer — Redis
// cannot un-deliver an entry — but is no longer renewed and is made idle
// at once (XCLAIM … IDLE <claim idle> JUSTID, which does not count a
// delivery): another member's next claim pass, within WithClaimIdle/2,
// takes it. Claimed entries may come after newer entries of the same key
// that were already handled: per-key order holds within one consumer's
// life, not across a failover. Members of one group read different
// entries, so per-key order does not hold across members either
// (Capabilities.OrderAcrossMembers is false).
//
// A new group starts at the end of the stream (WithStart: StartNew) or at
// its beginning (StartOldest); Prepare (SubscribeInitialize) creates it
// without consuming.
//
// Loss points: by default no stream is ever trimmed (WithMaxLen 0). With
// WithMaxLen n, streams are trimmed to about n entries (MAXLEN ~): a group
// that lags further behind, or a dead consumer's pending entry not yet
// claimed, loses the trimmed entries (logged when found). Redis without persistence (as started on the test
// machines) loses every stream on restart; a reader that finds its group
// gone (NOGROUP) recreates it at the beginning of the new stream and goes
// on. SendBatch returns when Redis has the entries, not when they are
// replicated or persisted; a batch that failed on a timeout may still have
// been stored.
//
// # Errors
//
// NewDriver and Open return errors wrapping transport.ErrInvalidOption
// (also named ErrInvalidOption here) for bad options, URLs or query
// parameters, including values out of their documented bounds (Open never
// shows the password). A publish with an empty metadata key fails with
// ErrInvalidMetadata before anything is sent. When Redis refuses some
// entries of a batch (a stream key holding another type, out of memory)
// SendBatch returns a *driver.SendError naming them; a connection error
// leaves the whole batch in doubt. The driver never retries: go-redis
// reconnects underneath (its MaxRetries), and the core backs off and calls
// ReceiveBatch again after a failed read. The heartbeat logs its failures
// (WithLogger) once when it starts failing and once when it recovers.
//
// # Concurrency
//
// A Driver is safe for concurrent use; SendBatch pipelines a whole batch
// on one connection. Each subscription has one goroutine of its own, the
// heartbeat, which its Close stops, and holds one pooled connection during
// each blocking read (WithBlock), as does each transport.Follow: the
// client's PoolSize must exceed the number of live subscriptions and
// followers plus what publishing and acking need.
// Stopping a subscription waits for its read in progress, so it takes up
// to WithBlock.
package redisstream
