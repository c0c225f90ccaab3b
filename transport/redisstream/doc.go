// Package redisstream is the tradebus transport on Redis Streams
// (redis:// and rediss:// URLs), written directly on go-redis.
//
// Layout: events of kind k (the first routing-key segment) are appended to
// the stream <prefix>k ("tradebus:trade") with XADD, one field each for
// "uuid", "routingkey", "payload" and every metadata entry as
// "meta:<key>" (CloudEvents names: "meta:id", "meta:type", …), readable
// with redis-cli. A subscription to pattern p for consumer group g reads
// the stream of p's kind as Redis consumer group "g:p" (one Redis group per
// pattern, so two patterns of one tradebus group both see every event they
// match); the other segments of p are matched in-process
// (events.MatchPattern) and entries that do not match are acknowledged
// without being delivered. The "routingkey" metadata is set on delivery
// from the entry when the publisher did not set it.
//
// Why not watermill-redisstream: its subscriber hands out one message at a
// time and waits for its ack (read COUNT 1), resends a nacked message from
// memory in a loop with a sleep that ignores Close, matches error text, and
// closes the client it was given. Key-ordered concurrency, pattern
// filtering and a bounded Close need the reader loop written here.
//
// # Delivery semantics
//
// At-least-once. An entry is acknowledged (XACK, batched) only after the
// handler acked the message. Per subscription, messages of one
// "partitionkey" are handed out one at a time in stream order, up to
// WithConcurrency keys at once (transport/internal/keyed). A nacked message
// is handed out again in its lane after WithRedeliveryBackoff, re-read from
// this consumer's pending entries (XCLAIM, which counts a delivery), so the
// later messages of its key wait behind it; there is no delivery limit and
// no dead-letter stream here: a message nacked forever holds its key
// forever (use the poison-queue middleware above the transport).
//
// A consumer's entries that are read but not acked are pending in Redis.
// A live subscriber renews its own in-flight entries every WithClaimIdle/3
// (XCLAIM … JUSTID), so slow handlers are not robbed. Entries of a consumer
// that died (or was closed with messages unacked) are claimed by another
// subscriber of the group after WithClaimIdle (XAUTOCLAIM, at start and
// every WithClaimIdle/2), or re-read at once by a subscriber that uses the
// same consumer name (WithConsumerName; within one Transport the name is
// reused). Claimed entries are delivered after newer entries of the same
// key that were already handled: per-key order holds within one consumer's
// life, not across a failover. Members of one group read different entries,
// so per-key order does not hold across members either.
//
// A new group starts at the end of the stream (WithStart: StartNew) or at
// its beginning (StartOldest); SubscribeInitialize creates it without
// consuming.
//
// Loss points: streams are trimmed to about WithMaxLen entries (MAXLEN ~;
// default 1,000,000 per kind): a group that lags further behind, or a dead
// consumer's pending entry not yet claimed, loses the trimmed entries
// (logged when found). Redis without persistence (as started on the test
// machines) loses every stream on restart; a reader that finds its group
// gone (NOGROUP) recreates it at the beginning of the new stream and goes
// on. Publish returns when Redis has the entries, not when they are
// replicated or persisted; a Publish that failed on a timeout may still
// have been stored.
//
// # Errors
//
// New and Open return errors wrapping ErrInvalidOption for bad options,
// URLs or query parameters (Open never shows the password). Publish
// returns errors wrapping events.ErrInvalidRoutingKey for a bad key,
// ErrInvalidMetadata for an empty metadata key, ErrClosed after Close, and
// Redis' errors otherwise (it does not retry: retry above the transport).
// Subscribe returns errors wrapping events.ErrInvalidRoutingKey for a bad
// pattern and ErrClosed after Close; Transport.Subscriber returns
// ErrInvalidGroup. Errors of the background loops (read, claim, renew,
// ack) are logged (WithLogger), once when a loop starts failing and once
// when it recovers; the loops retry with backoff (100ms doubling to 5s),
// and go-redis reconnects underneath.
//
// # Concurrency
//
// Transport, its Publisher and its Subscribers are safe for concurrent
// use. Each subscription runs a reader, a claimer, a renewer and an acker
// goroutine plus up to WithConcurrency handler lanes, and holds one
// pooled connection during each blocking read (WithBlock): the client's
// PoolSize must exceed the number of live subscriptions plus what
// publishing and acking need. Transport.Close(ctx) stops reading, waits
// until ctx is done for handed-out messages to be acked or nacked (it
// returns an error wrapping ctx.Err() if some were not; they stay pending),
// flushes acks and stops every goroutine; it closes the client only if
// Open made it. Subscriber.Close does the same with WithCloseTimeout.
// Closing a subscription returns within about WithBlock plus the drain.
package redisstream
