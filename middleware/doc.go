// Package middleware is tradebus' reliability layer: Watermill router
// middleware for retry, poison queue (dead letter) with replay, deduplication
// (idempotent consumer), correlation/causation ids, panic recovery and handler
// timeouts. Each is an ordinary message.HandlerMiddleware, usable in any
// Watermill router and on any transport; the package imports no broker client
// (the Redis and PostgreSQL dedup stores live in dedup/redisstore and
// dedup/pgstore).
//
// Most applications use Default, which builds the stack in the one correct
// order:
//
//	correlation → poison → retry → dedup → [timeout] → recoverer → handler
//
//	stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("strategy"))
//	router.AddMiddleware(stack.Middlewares()...)
//
// Default's documentation explains why the order matters. Options are shared
// by all constructors; each option says which constructors it applies to, and
// a constructor rejects one that does not apply.
//
// # Delivery semantics
//
// Transports deliver at least once. With this stack a message is acked only
// after the handler succeeded (and the router published the messages it
// returned), or after the message was safely published to the poison topic;
// in every other case it is nacked and the transport redelivers it. With the
// dedup middleware, handling is effectively once per dedup key within the TTL.
//
//   - Retry: a transient error is retried in the handler's goroutine with
//     exponential backoff and jitter (default 5 attempts; waits of about
//     100ms·2ⁿ, 20% downward jitter, cap 5s; budget 30s). A permanent error is
//     never retried. In-handler retry is bounded so it cannot hold a hot
//     partition for long; after it, the message is either dead-lettered
//     (default) or requeued with a delay carried in its metadata (WithRequeue;
//     this gives up per-key order for that message, and the copy reaches every
//     group bound to the routing key — the retry middleware of other handlers
//     skips it).
//   - Poison queue: a failed message is published to the poison topic
//     ("deadletter.<group>") with its body and metadata untouched plus the
//     MetaPoison* metadata; the original is acked only after that publish
//     succeeded and is nacked (redelivered) otherwise. A failure while the
//     message context is done (shutdown) is nacked, never dead-lettered.
//     Replay republishes poisoned messages to their original routing key with
//     the same event id and correlation id, addressed to the consumer group
//     that failed them (MetaReplayGroup: other groups never see the replay);
//     ListPoisoned lists them without consuming; the command
//     cmd/tradebus-dlq wraps both (init, list, replay).
//   - Dedup: the key (event id by default) is recorded only after the handler
//     succeeded, so a failed, nacked and redelivered message is processed again
//     (unlike Watermill's Deduplicator). Duplicates are acked without running
//     the handler, counted (Dedup.Stats) and logged at debug level. Keys are
//     namespaced per consumer group and handler. Across processes, concurrent
//     deliveries of one key are serialised only by the PostgreSQL inbox
//     (pgstore.RecordTx) or a Claim before the side effect (redisstore).
//   - Correlation: the incoming envelope is in the handler's context;
//     publisher.Publish(ctx, …) and messages returned by the handler get
//     correlation id = the flow's first event id and causation id = the
//     incoming event id.
//
// # Errors
//
// Wrap an error with Permanent when retrying cannot fix it (package subscriber
// does so for decode and validation failures); test with IsPermanent or
// errors.Is(err, ErrPermanent). Classify maps an error to its ErrorClass:
// permanent, transient, or panic (a *PanicError from the recoverer, which
// carries the stack). The retry middleware returns a *RetryError after its
// last attempt. ErrPoisonPublish, ErrRequeue, ErrNoDedupKey and
// ErrNotPoisoned mark the middleware's own failures. Every constructor rejects
// an invalid or misplaced option with an error wrapping ErrInvalidOption.
// Match errors with errors.Is / errors.As, never by their text.
//
// # Concurrency
//
// All middleware values (Retry, Poison, Dedup, Stack, MemoryStore) are safe for
// concurrent use by any number of handlers and messages. The dedup middleware
// serialises messages of one key within the process; messages of different
// keys run in parallel. No middleware starts a goroutine that outlives the
// message it handles — except that the dedup middleware waits for the router's
// ack or nack of a message whose handler returned messages, in a goroutine
// that ends with that ack or nack (a message handled outside a router must be
// acked or nacked by its caller). MemoryStore expires keys lazily, without a
// goroutine.
package middleware
