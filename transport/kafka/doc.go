// Package kafka is the tradebus driver for Apache Kafka, written directly
// on franz-go's kgo client. It only moves batches; the portable core
// (package transport) turns it into a Watermill publisher and subscribers
// with key-ordered concurrency, redelivery backoff and one Close:
//
//	drv, err := kafka.NewDriver([]string{"broker1:9092", "broker2:9092"})
//	tr, err := transport.New(drv, transport.WithConcurrency(8))
//	tr, err := transport.Open(ctx, "kafka://broker1:9092,broker2:9092?prefix=prod.")
//
// Importing the package registers the kafka:// scheme with transport.Open.
// For tests and examples, package kafkatest starts an embedded cluster.
// Ping, Lag (per partition) and DeleteGroup are reached through
// transport.Transport's Ping, transport.Lag and transport.DeleteGroup;
// the names to use with Kafka tooling (TopicName, GroupID) are functions
// and methods of this package.
//
// # Routing
//
// An event with routing key trade.binance.BTCUSDT goes to the topic of its
// kind, "tradebus.trade" (WithTopicPrefix sets the prefix), with its
// partition key (the symbol) as record key, so every symbol lives in one
// partition, in publish order. Topics are created on first use with
// WithPartitions partitions (WithoutTopicCreation turns that off).
//
// A subscription to a pattern (trade.*.BTCUSDT, trade.#) consumes the
// kind's topic; the core skips the records whose routing key does not
// match, and they count as handled. So a pattern that wants one symbol of
// a busy kind still fetches the whole kind; give such streams their own
// kind if that matters. A fetch brings at most WithFetchMaxBytes (256 KiB)
// from one broker, so the handlers start after one small fetch and the
// next one travels while they work.
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
// A publish hands every message of the call to the producer at once and
// returns after the brokers acknowledged all of them (acks=all,
// idempotent producer, so producer retries never duplicate or reorder a
// partition); records of concurrent publishes share batches.
// A message must fit in one record batch: WithMaxMessageBytes (1,000,012
// bytes by default) less the framing, stated in Capabilities.
//
// Consuming is at least once. Every Subscribe is a member of the Kafka
// consumer group GroupID(group, pattern): members of one group and pattern
// share the topic's partitions; every (group, pattern) receives every
// matching event. A group without committed offsets starts at the oldest
// retained record.
//
// The offset committed for a partition (every WithCommitInterval, on
// revocation and on close, in one request for all partitions) is one past
// the longest prefix of acked records, never past a record not yet acked
// — so a crash redelivers what was unacked (and what was acked after it),
// never loses anything. A message the core gives back (when it stops with
// messages not handled) keeps the commit point before it; the partition
// is sought back to its first unacked record, or its next owner starts
// there.
//
// When a rebalance takes partitions away, the member stops fetching them,
// waits until the records it already received are acked or given back
// (within WithRevokeTimeout), commits and lets go: the next owner
// continues exactly after, so each key keeps its order across members and
// nothing is handled twice in an orderly rebalance. Past the timeout the
// member drops the later acks of those partitions, and the next owner
// gets their unacked records again.
//
// # Errors
//
// Invalid options, URLs and URL parameters wrap transport.ErrInvalidOption
// (ErrInvalidOption here is the same value); a kind that cannot be part of
// a Kafka topic name is a *TopicError (ErrInvalidTopic); records the
// broker did not take are named in a *driver.SendError wrapping kgo or
// kerr errors (errors.Is(err, kerr.NotEnoughReplicas) …); Subscribe that
// cannot join in time is ErrJoinTimeout. Fetch and commit failures inside
// a running subscription are retried by the client and logged
// (WithLogger). Credentials never appear in errors or logs.
//
// # Concurrency
//
// A Driver is safe for concurrent use. The producer client is shared by
// every publish; each Subscribe starts its own client (its connections,
// kgo's goroutines and one committer goroutine).
package kafka
