// Package amqp is tradebus' RabbitMQ driver: a driver.Driver written
// directly on github.com/rabbitmq/amqp091-go, run by tradebus' portable
// core (package transport), which turns it into a Watermill
// message.Publisher and message.Subscribers:
//
//	drv, err := amqp.NewDriver("amqp://user:pass@host:5672/vhost", amqp.WithExchange("market"))
//	tr, err := transport.New(drv, transport.WithConcurrency(8))
//
// or, with this package imported, transport.Open(ctx, "amqp://…?exchange=market&concurrency=8").
// The driver only moves batches: topology, publishing with confirms,
// consuming with a prefetch, batched acks and reconnects. Key-ordered
// dispatch, redelivery after a handler's nack, validation, the common
// options and Close are the core's.
//
// It does not use watermill-amqp, whose confirmed publisher waits for one
// confirm per message and whose DefaultMarshaler rejects non-string
// headers (a foreign message is nacked and redelivered in a hot loop).
// BenchmarkPublish and BenchmarkConsume compare all three in one run.
//
// # Routing
//
// Everything is published to one durable topic exchange (WithExchange,
// default "tradebus") with the message's routing key, e.g.
// "trade.binance.BTCUSDT". A subscription of group to pattern consumes the
// durable queue QueueName(group, pattern) = "<exchange>.<group>.<pattern>",
// bound to the exchange with pattern, so the broker does the matching ('*'
// one segment, '#' zero or more). Every consumer group gets every matching
// message once; subscriptions of one group (in this process or others)
// share its queue. A message routed to no queue is dropped by the broker,
// as on any topic exchange: declare a group's queue first (Subscribe or
// Prepare, i.e. Watermill's SubscribeInitialize) to keep what is published
// before it consumes.
//
// # Messages
//
// Messages are persistent. The metadata travel as string headers, except
// three that AMQP carries in fields of its own and are not repeated:
// "datacontenttype" as content_type and "correlationid" as correlation_id
// (as headers too when empty or longer than 255 bytes), "routingkey" as
// the routing key (as a header too when it differs, e.g. a copy sent to a
// queue by name). The AMQP message_id is the event id (metadata "id", else
// the message UUID); type and timestamp are filled from the CloudEvents
// metadata "type" and "time" (which stay headers). On delivery the message
// UUID is the message_id, the metadata are the headers, "routingkey" is
// the delivery's routing key unless the message carried one, and
// "datacontenttype" and "correlationid" come from the AMQP properties
// unless the message carried them as headers. Headers of other types (from foreign producers) are
// converted to strings — numbers in decimal, timestamps in RFC 3339,
// tables as JSON — so such messages are consumed, never rejected in a
// loop. Metadata "priority" (MetaPriority) sets the AMQP priority.
//
// Limits (Driver.Capabilities): a message's headers must fit one AMQP
// frame (frame_max, negotiated when connecting; 128 KiB by default), and
// its body RabbitMQ's max_message_size (128 MiB for RabbitMQ 3.8 to 3.13,
// 16 MiB from 4.0; WithMaxMessageSize for another configured value).
//
// # Delivery semantics
//
// At least once. SendBatch returns after the broker confirmed every
// message (publisher confirms, on by default), i.e. after the message is
// stored in every queue it was routed to. A failed publish may still have
// stored some messages: publishing them again can duplicate them.
// Deliveries are acked after the core's handler acked them, in batches
// (each ack frame is a command in a quorum queue's log): while the core
// still holds deliveries of the channel, acks wait, up to a quarter of the
// prefetch, and then the run of the oldest takes one basic.ack with
// multiple=true; acks still waiting behind a delivery the core holds (a
// slow handler) then go out one by one. Every ack goes out once the core
// holds no delivery of the channel, and before the subscription closes;
// messages whose acks still wait when a connection is lost are
// redelivered, like those in flight. A handler's nack is redelivered by the core, in
// process and in key order; what the core gives back when it stops is
// returned to the queue (basic.nack with requeue), after the consumer is
// cancelled (basic.cancel): a consumer still active would get the
// returned messages again at once, and return them a second time when
// its channel closes. Quorum queues (the default) count these returns: after WithDeliveryLimit (default 20) —
// returns, or channels closed before the ack — the broker drops the
// message, or republishes it to WithDeadLetterExchange if set (with its
// routing key, headers and an x-death header). Classic queues
// (WithQueueType(QueueClassic), required by WithMaxPriority) have no
// delivery limit. Messages in flight when a connection is lost are
// redelivered (duplicates are possible; deduplicate by message UUID).
//
// Order: one queue delivers in publish order, and the messages of one
// SendBatch call are published in slice order on one channel. Sharing a
// group's queue between several subscriptions breaks per-key order
// (Capabilities.OrderAcrossMembers is false).
//
// Connection loss: the driver redials after a broker restart or a cut
// connection (exponential backoff, at most 5s apart). A SendBatch during
// the outage waits for the reconnect within its ctx and WithPublishTimeout
// and then fails with ErrConnection; it never retries a publish. A
// ReceiveBatch waits for the reconnect within its ctx, redeclares the
// queue and consumes again; acks of deliveries of the lost channel are
// dropped (those messages are redelivered).
//
// # Errors
//
// Bad options and URL parameters wrap transport.ErrInvalidOption
// (OptionError names the option and value). SendBatch returns errors
// wrapping ErrConnection (unreachable, or lost before the confirm: outcome
// unknown), ErrNacked (refused by the broker), transport.ErrClosed or a
// context error, as a *driver.SendError when only some messages failed.
// Broker refusals while declaring (e.g. a queue that exists with other
// arguments) come back from Subscribe as amqp091-go *Error values. No
// error or log line contains the password: URLs are shown redacted.
//
// # Concurrency
//
// A Driver is safe for concurrent use. Concurrent SendBatch calls share
// WithPublishChannels (default 2) confirm-mode channels, each call keeping
// all its messages in flight on one of them. Each subscription consumes on
// its own AMQP channel with a prefetch of WithPrefetch (default twice the
// core's batch). Publishing and consuming use separate connections, so
// that flow control on publishers does not stall consumers. The driver
// starts no goroutine of its own beyond amqp091-go's.
package amqp
