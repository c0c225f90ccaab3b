// Package transport defines the broker-neutral Transport and opens one by
// URL, so that switching brokers is configuration, not a rewrite.
//
// Each broker lives in its own sub-package (transport/mem,
// transport/amqp, transport/kafka, transport/redisstream,
// transport/nats); each is an ordinary Watermill message.Publisher and
// message.Subscriber. The publisher's Watermill topic is the event's
// routing key ("trade.binance.BTCUSDT"); a subscriber's Watermill topic is
// a subscription pattern ("trade.*.BTCUSDT", "exec.#"). Every transport
// passes the same conformance suite (transport/transporttest) and
// Watermill's universal Pub/Sub tests.
//
// # Delivery semantics
//
// At least once on every transport: a message is removed (acked,
// committed) only after the handler acked it; a nacked message is
// delivered again. Within one consumer group, messages of one partition key
// (metadata "partitionkey", the symbol) are handed to the handler one at a
// time and in publish order; up to a transport's concurrency of messages
// with different keys are in flight at once. Drivers never retry on their
// own and never hide an error: retry, dead-lettering and deduplication are
// router middleware (package middleware).
//
// # Errors
//
// Open returns errors wrapping ErrUnknownScheme or ErrInvalidURL, or the
// driver's own error (for instance ErrInvalidOption of the driver package
// for an unknown query parameter). No error or log line contains a URL's
// password.
//
// # Concurrency
//
// Transports, their publishers and subscribers are safe for concurrent
// use. Close is idempotent and bounded by its ctx.
package transport
