// Package amqp is tradebus' RabbitMQ transport: a Watermill
// message.Publisher and message.Subscriber written directly on
// github.com/rabbitmq/amqp091-go.
//
// It does not use watermill-amqp: its confirmed publisher opens a channel
// and waits for one confirm per message (in this package's benchmark, on a
// 2-core machine against RabbitMQ 3.10 with a quorum queue, about 2–4% of
// the rate of amqp091-go with asynchronous confirms, and 5–8x slower than
// this package with 64 concurrent publishers); its DefaultMarshaler rejects
// non-string headers, so a foreign message is nacked and redelivered in a
// hot loop; and the project's earlier measurements found that with
// ChannelPoolSize > 0 a broker restart can leak a pool slot and wedge the
// publisher (upstream PR #37). This package keeps many messages in flight on
// one confirm-mode channel, converts every header to a string, and
// reconnects by itself. BenchmarkPublish and BenchmarkConsume compare all
// three in one run.
//
// # Routing
//
// Everything is published to one durable topic exchange (WithExchange,
// default "tradebus") with the Watermill topic as routing key, e.g.
// "trade.binance.BTCUSDT". Subscriber(group).Subscribe(ctx, pattern)
// consumes the durable queue QueueName(group, pattern) =
// "<exchange>.<group>.<pattern>", bound to the exchange with pattern, so the
// broker does the matching ('*' one segment, '#' zero or more). Every
// consumer group gets every matching message once; subscribers of one group
// (in this process or others) share its queue. A message routed to no queue
// is dropped by the broker, as on any topic exchange: declare a group's
// queue first (Subscribe or SubscribeInitialize) to keep what is published
// before it consumes.
//
// # Messages
//
// Messages are persistent. All Watermill metadata travels as string
// headers. The AMQP message_id is the event id (metadata "id", else the
// message UUID); content_type, correlation_id, type and timestamp are filled
// from the CloudEvents metadata "datacontenttype", "correlationid", "type"
// and "time". On delivery the message UUID is the message_id, the metadata
// are the headers, and "routingkey" is the delivery's routing key unless the
// message carried one. Headers of other types (from foreign producers) are
// converted to strings — numbers in decimal, timestamps in RFC 3339, tables
// as JSON — so such messages are consumed, never rejected in a loop. Quorum
// queues add "x-delivery-count" to redeliveries. Metadata "priority"
// (MetaPriority) sets the AMQP priority.
//
// # Delivery semantics
//
// At least once. Publish returns after the broker confirmed every message
// (publisher confirms, on by default), i.e. after the message is stored in
// every queue it was routed to. A Publish that fails may still have stored
// some messages: retrying it can duplicate them. Consumers ack after the
// application acked, one delivery at a time (acks may complete out of
// order). A nacked message is returned to its queue and redelivered. Quorum
// queues (the default) count deliveries: after WithDeliveryLimit (default
// 20) returns — nacks, or channels closed before the ack — the broker drops
// the message, or republishes it to WithDeadLetterExchange if set (with its
// routing key, headers and an x-death header; bind a queue there to keep
// it). Classic queues (WithQueueType(QueueClassic), required by
// WithMaxPriority) have no delivery limit: a message nacked forever is
// redelivered forever, so use the retry and poison-queue middleware in front
// of handlers. Messages in flight when a connection is lost are redelivered
// (duplicates are possible; deduplicate by message UUID).
//
// Order: one queue delivers in publish order, and a subscription never hands
// out two messages with the same partition key (metadata "partitionkey";
// none is one key) at once, so each key is handled in order. A nack breaks
// that key's order (the redelivery comes after messages already fetched), as
// does sharing a group's queue between several subscribers.
//
// Connection loss: the transport redials after a broker restart or a cut
// connection (exponential backoff, at most 5s apart). A Publish during the
// outage waits for the reconnect within its bounds (msg.Context() and
// WithPublishTimeout) and then fails with ErrConnection; it never hangs.
// Subscriptions redeclare their queue and consume again by themselves.
//
// # Errors
//
// Bad options, URL parameters, groups, topics and patterns wrap
// ErrInvalidOption (OptionError names the option and value). Publish returns
// a *PublishError wrapping ErrConnection (unreachable, or lost before the
// confirm: outcome unknown), ErrNacked (refused by the broker), ErrClosed or
// a context error. Broker refusals while declaring (e.g. a queue that exists
// with other arguments) come back from Subscribe as amqp091-go *Error values.
// No error or log line contains the password: URLs are shown redacted.
//
// # Concurrency
//
// Transport, Publisher and Subscriber are safe for concurrent use.
// Concurrent Publish calls share one confirm-mode AMQP channel, so a burst
// of small publishes from many goroutines runs at about the speed of one
// goroutine publishing asynchronously. Each Subscribe call has its own AMQP
// channel with prefetch WithPrefetch (default 128) and hands out up to
// WithConcurrency (default 64) messages at once, per partition key in
// order. Publishing and consuming use separate connections, so that flow
// control on publishers does not stall consumers. Close drains and then
// stops every goroutine the transport started.
package amqp
