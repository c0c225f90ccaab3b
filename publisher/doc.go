// Package publisher publishes typed tradebus events on any transport.
//
// A Publisher validates each event, fills its envelope (CloudEvents
// attributes as Watermill metadata: id = UUIDv7 = Watermill message UUID,
// type, source, specversion, time, subject, partitionkey, routingkey,
// datacontenttype, correlationid, causationid), encodes it as JSON
// (decimals as strings) and publishes it with the routing key as the
// Watermill topic.
//
// # Delivery semantics
//
// Publish returns after the transport accepted every message: on brokers
// that means confirmed (RabbitMQ publisher confirms, Kafka acks=all, …).
// A Publish that returns an error may have sent some of its messages.
// WithRetry makes Publish send again, with the same event ids, what the
// transport reports as not stored (so the dedup middleware absorbs any
// duplicate), within the call's ctx — for a gateway that must ride out a
// broker restart.
//
// Async (Publisher.NewAsync) publishes for a gateway that must not wait
// for confirms: Publish queues, up to WithSenders pipelined batches are in
// flight at once, and each event's outcome goes to a result func and is
// counted for Flush and Close. A partition key is in at most one batch in
// flight at a time (its later events wait for that batch's confirm; on a
// transport that pipelines, RabbitMQ and NATS, only until it is written),
// so each key is stored in publish order while other keys go on.
//
// Correlation: an event published with a ctx that carries an envelope (a
// handler's ctx does) gets correlationid = the parent's correlation id
// (or the parent's id, if it had none) and causationid = the parent's id.
// Without a parent, an event starts a flow: correlationid = its own id.
//
// # Errors
//
// An invalid event makes Publish return an *EventError wrapping
// ErrInvalidEvent and the validation error (events.ErrValidation), before
// anything is sent. Transport errors are wrapped with the routing key.
//
// # Concurrency
//
// A Publisher is safe for concurrent use.
package publisher
