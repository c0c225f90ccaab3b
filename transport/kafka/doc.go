// Package kafka is the tradebus transport on Apache Kafka: a Watermill
// message.Publisher and message.Subscriber written directly on franz-go's
// kgo client, with consumer groups, commit-after-ack and key-ordered
// concurrency.
//
//	tr, err := kafka.New([]string{"broker1:9092", "broker2:9092"})
//	tr, err := kafka.Open(ctx, u) // kafka://broker1:9092,broker2:9092?prefix=prod.
//
// For tests and examples, package kafkatest starts an embedded cluster.
//
// # Routing
//
// An event with routing key trade.binance.BTCUSDT goes to the topic of its
// kind, "tradebus.trade" (WithTopicPrefix sets the prefix), with its
// "partitionkey" metadata (the symbol) as record key, so every symbol lives
// in one partition, in publish order. Topics are created on first use with
// WithPartitions partitions (WithoutTopicCreation turns that off).
//
// A subscription to a pattern (trade.*.BTCUSDT, trade.#) consumes the
// kind's topic and filters the rest of the key in-process: a record that
// does not match is skipped and counts as handled. So a pattern that
// wants one symbol of a busy kind still fetches the whole kind; give such
// streams their own kind if that matters.
//
// Metadata travels as record headers in the CloudEvents Kafka binary
// binding, readable by any Kafka client: ce_id, ce_type, ce_source,
// ce_specversion, ce_time, ce_subject, ce_correlationid, ce_causationid,
// ce_traceparent, ce_partitionkey, ce_sequence, ce_routingkey (the full
// routing key), content-type (datacontenttype); other metadata keys are
// headers of the same name (the Header constants document the exact
// rules). Records produced by other clients are delivered too: the ce_
// headers become metadata, a record without ce_routingkey has the kind as
// routing key, one without ce_partitionkey gets its record key, one
// without ce_id gets the UUID "kafka:<topic>/<partition>/<offset>".
//
// # Delivery semantics
//
// Publish returns after the brokers acknowledged every message (acks=all,
// idempotent producer, so producer retries never duplicate or reorder a
// partition). Concurrent Publish calls share batches; many records are in
// flight at once.
//
// Subscriber is at-least-once. Every Subscribe call is a member of the
// Kafka consumer group GroupID(group, pattern): members of one group and
// pattern share the topic's partitions; every (group, pattern) receives
// every matching event. A group without committed offsets starts at the
// oldest retained record.
//
// Within a subscription up to WithConcurrency messages are in flight, never
// two of one partition key: symbols run in parallel, each in order. The
// offset committed for a partition (every WithCommitInterval, on
// revocation and on close) is one past the longest prefix of acked
// records, never past a record not yet acked — so a crash redelivers what
// was unacked (and what was acked after it), never loses anything.
//
// A nacked message is delivered again after a backoff (WithRedeliveryBackoff)
// in its key's lane, before later messages of that key; other keys go on,
// and the partition's commit point waits for it. A message nacked forever
// holds its key and its partition's commit point: put the poison-queue
// middleware in front of handlers.
//
// When a rebalance takes partitions away, the member stops fetching them,
// finishes the records it already fetched (within WithCloseTimeout),
// commits and lets go: the next owner continues exactly after, so each
// key keeps its order across members and nothing is handled twice in an
// orderly rebalance. What is not acked in time is redelivered to the next
// owner.
//
// Closing the Transport drains: nothing new is handed out, messages held
// by handlers are awaited until the ctx of Close ends, acked offsets are
// committed, members leave their groups. Cancelling a subscription's ctx
// abandons its in-flight messages (uncommitted, redelivered to the group).
//
// # Errors
//
// Invalid options, URLs and URL parameters wrap ErrInvalidOption; invalid
// routing keys and patterns wrap events.ErrInvalidRoutingKey; a kind that
// cannot be part of a Kafka topic name is a *TopicError (ErrInvalidTopic);
// broker failures of Publish are a *PublishError wrapping kgo or kerr
// errors (errors.Is(err, kerr.NotEnoughReplicas) …); use after Close is
// ErrClosed; Subscribe that cannot join in time is ErrJoinTimeout. Fetch
// and commit failures inside a running subscription cannot be returned:
// they are logged (WithLogger) and retried by the client. Credentials
// never appear in errors or logs.
//
// # Concurrency
//
// Transport, Publisher and Subscriber are safe for concurrent use. Each
// Subscribe call starts its own client (connections, a poll goroutine, a
// committer and up to WithConcurrency handler lanes); Close stops all of
// them.
package kafka
