// Package transport is the broker-neutral core of tradebus: the Transport
// interface, Open by URL, and the portable layer (Portable, built by New on
// a driver.Driver) that every broker shares, so that switching brokers is
// configuration, not a rewrite, and every broker behaves the same.
//
// Each broker is a thin driver in its own package (transport/mem,
// transport/amqp, transport/kafka, transport/redisstream, transport/nats)
// that only moves batches: send a batch, receive a batch, ack or nack a
// batch, state its limits (package driver). Importing a driver package
// registers its URL schemes with Open, as with database/sql; import
// transport/all for every one. A program links only the broker clients of
// the drivers it imports.
//
// The core does the rest once: Watermill message.Publisher and
// message.Subscriber (the publisher's topic is the routing key
// "trade.binance.BTCUSDT", a subscriber's topic is a pattern
// "trade.*.BTCUSDT"), pipelined publishing (Publisher.PublishBatch sends a
// whole call to many routing keys with every message in flight at once),
// key-ordered dispatch of received batches onto a bounded set of workers,
// a fast path that runs handlers on those workers without a Watermill
// router (Subscriber.Consume; package subscriber's Group uses it), batched
// acks, redelivery after a nack, validation of keys, patterns and group
// names, size checks against the driver's limits, one set of errors, one
// set of URL options, one Close, and logging.
//
// # Operations
//
// Transport.Ping checks the broker connection (a health check); Lag
// reports a consumer group's backlog (GroupLag: pending, in flight,
// unacked, Kafka's partitions), cheap enough for a periodic gauge; and
// DeleteGroup removes a group's broker-side state (queue, consumer group,
// durable consumer) that would otherwise stay and keep collecting events.
// A driver offers them through the optional interfaces of package driver
// (Pinger, Inspector, GroupDeleter); every driver of this module does.
//
// # Positions and history
//
// On Kafka, Redis Streams and NATS JetStream — and on mem opened with
// history (mem.WithHistory, URL history=N: the last N messages of each
// kind) — every received message carries its Position (stream, partition,
// offset) in its context (PositionFromContext), and Read reads the stored
// messages of a pattern from the beginning, after saved positions or from
// a time, as a reader that joins no group (driver.Reader); Follow does the
// same and goes on past the newest message with every message stored
// later, as it is stored. RabbitMQ, and mem by default, keep no history:
// Read and Follow fail with ErrNotReplayable there (Replayable says
// which).
//
// # Delivery semantics
//
// At least once on every transport: a message is acked (removed,
// committed) only after the handler acked it. Within one subscription,
// messages of one partition key (metadata "partitionkey", the symbol) are
// handed out one at a time and in the order received; up to the
// concurrency (URL concurrency=N, default 64) messages of different keys
// are out at once. A nacked message is handed out again by the core, in
// place — before any later message of its key — after the redelivery
// backoff (10 ms doubling to 1 s by default), on every transport; bound
// the attempts with the retry and poison-queue middleware (package
// middleware). When a subscription stops, what it received and did not
// hand out, and what is nacked or abandoned, is given back to the broker,
// which redelivers it to this or another member of the group. Drivers never
// retry on their own and never hide an error.
//
// # Errors
//
// One set of sentinels for every transport: ErrClosed, ErrInvalidGroup
// (see ValidateGroup), ErrInvalidOption (a bad option or URL parameter, or
// a value out of its bounds), ErrTooLarge (a message over the driver's
// limit, refused before anything is sent), ErrUnknownScheme and
// ErrInvalidURL from Open, and ErrNotSupported, ErrGroupNotFound and
// ErrGroupInUse from the operations. Publish and Subscribe reject invalid routing
// keys and patterns with errors wrapping events.ErrInvalidRoutingKey. No
// error or log line contains a URL's password.
//
// # Concurrency
//
// Transports, their publishers and subscribers are safe for concurrent
// use. Close is idempotent and bounded by its ctx: it drains in-flight
// handlers until ctx is done, then gives back what is left; a later Close
// waits for the first and returns nil.
//
// # Observability
//
// WithTracerProvider and WithMeterProvider instrument the core once for
// every driver: a producer span per published message and a consumer span
// per handled one (its child, through the W3C traceparent in the
// envelope), and the counters and histograms named by the Metric
// constants. Without them nothing is recorded and nothing is paid. Open
// gives WithLogger's logger and WithTLSConfig's configuration to the
// driver (driver.Env).
package transport
