// Package nats is the tradebus transport on NATS JetStream (nats:// URLs),
// written directly on nats.go's jetstream package.
//
// Layout: routing key k travels on subject <prefix>.k
// ("tradebus.trade.binance.BTCUSDT"); metadata travels as headers of the
// same (CloudEvents) names, the message UUID as header Tradebus-Uuid.
// Events of kind x are kept in the stream <prefix>_x ("tradebus_trade",
// subjects <prefix>.x and <prefix>.x.>), created or updated on the first
// Publish or Subscribe of that kind by a Transport (file storage, limits
// retention; WithStorage, WithMaxMsgs, WithMaxAge, WithReplicas). One
// stream per kind rather than one per prefix: "kind.#" then needs no
// filter at all, and limits fit each kind (book deltas vs orders).
//
// A subscription to pattern p for group g pulls from the durable consumer
// "g__p…_<hash>" on p's kind stream (ack explicit, WithAckWait,
// WithMaxDeliver, WithMaxAckPending). '*' maps to '*'. '#' (zero or more
// segments) has no exact NATS equivalent — '>' needs at least one token
// and servers before 2.10 (the test machines run 2.9) take a single filter
// subject — so: "kind.#" reads the whole kind stream; "kind.#.X" filters
// on "<prefix>.kind.>" and matches the rest in-process; "kind.a.#" (which
// must also match "kind.a" itself) reads the whole kind stream and matches
// in-process. Messages that do not match are acked without delivery. The
// "routingkey" metadata is set on delivery from the subject when the
// publisher did not set it.
//
// Why not watermill-nats/v2: its JetStream subscriber handles one message
// at a time in the consume callback and waits for its ack, and maps a
// Watermill topic to a stream name, which a subscription pattern with '*'
// or '#' cannot be. Key-ordered concurrency and pattern filtering need the
// reader written here.
//
// # Delivery semantics
//
// At-least-once. A message is acked only after the handler acked it. Per
// subscription, messages of one "partitionkey" are handed out one at a
// time in stream order, up to WithConcurrency keys at once
// (transport/internal/keyed). A nacked message is given back to JetStream
// with a delay (NAK with delay, WithRedeliveryBackoff doubling per
// delivery), and later messages of its key go on meanwhile: key order does
// not hold across a nack (the retry middleware, which retries inside the
// handler, keeps it). The consumer's BackOff list is not used: JetStream
// then takes its first value as AckWait (seen on 2.9), which would time
// out every handler slower than the first backoff step. With WithMaxDeliver(n), after the n-th delivery is
// nacked or times out JetStream stops delivering the message, keeps it in
// the stream and publishes the advisory
// $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer> with its
// stream sequence: that is the dead-letter hand-off (fetch it with
// Stream.GetMsg). The default is unlimited, because nobody may be
// listening to that advisory; the poison-queue middleware is the primary
// dead-letter path.
//
// While a message is queued or handed out, the subscription tells
// JetStream every AckWait/3 that it is in progress, so slow handlers do not
// cause redeliveries; a crashed subscriber's messages are redelivered to
// another member after WithAckWait. Messages pulled ahead but stuck behind
// a full pool for longer than AckWait are redelivered (duplicates).
// Closing a subscription reads its open pull request to its end (a pull
// request cannot be withdrawn, and a message delivered into one nobody
// reads waits out AckWait), then NAKs what it will not deliver, so the
// next member gets it at once. Known limit: nats.go's Fetch also ends its
// wait on a local timer one second after the request's expiry; on a
// heavily loaded machine a message can then still be stranded in the
// ended request and is redelivered only after AckWait (seen as a rare
// ~30s delay in Watermill's suite under -race on 2 busy cores; never a
// loss). Members of one group share the consumer;
// key order does not hold across members.
//
// A new consumer starts at new messages (WithStart: StartNew) or at the
// oldest retained (StartOldest); SubscribeInitialize creates it without
// consuming. A consumer set up again after it or its stream vanished
// starts at the beginning of its stream.
//
// Loss points: streams drop their oldest messages beyond WithMaxMsgs
// (default 1,000,000 per kind) or WithMaxAge; a group lagging further
// behind loses them. MemoryStorage streams are lost on a server restart.
// Publish returns when JetStream has stored the message (publish ack); a
// Publish that failed on a timeout may still have been stored.
//
// # Errors
//
// New and Open return errors wrapping ErrInvalidOption for bad options,
// URLs or query parameters (Open never shows the password). Publish
// returns errors wrapping events.ErrInvalidRoutingKey for a bad key,
// ErrInvalidMetadata for metadata that cannot be a header (empty key,
// white space, ':' or control characters in a key, a key that is reserved
// — Tradebus-Uuid, Nats-* — or a line break in a value), ErrClosed after
// Close, and nats.go's errors otherwise (it does not retry, except to
// create a stream that vanished and resend once). Subscribe returns errors
// wrapping events.ErrInvalidRoutingKey for a bad pattern and ErrClosed
// after Close; Transport.Subscriber returns ErrInvalidGroup. Errors of the
// reader are logged (WithLogger), once when it starts failing and once
// when it recovers; it retries with backoff (100ms doubling to 5s) and sets
// its consumer up again; nats.go reconnects underneath (Open: forever).
//
// # Concurrency
//
// Transport, its Publisher and its Subscribers are safe for concurrent
// use. Each subscription runs a reader (one pull request at a time, at
// most WithPullWait long) and a heartbeat goroutine plus up to
// WithConcurrency handler lanes. Transport.Close(ctx) stops pulling, waits
// until ctx is done for handed-out messages to be acked or nacked (it
// returns an error wrapping ctx.Err() if some were not; they are NAKed),
// and stops every goroutine; it closes the connection only if Open made
// it. Subscriber.Close does the same with WithCloseTimeout. Closing a
// subscription returns within about WithPullWait plus the drain.
package nats
