// Package kafkatest starts an embedded Kafka cluster for tests and examples:
// github.com/twmb/franz-go/pkg/kfake, an in-process broker speaking the real
// Kafka wire protocol on loopback TCP, so that code using package
// transport/kafka (or any Kafka client, kcat included) can be tested without
// a Kafka server.
//
//	brokers := kafkatest.NewCluster(t).Brokers()
//	drv, err := kafka.NewDriver(brokers)
//	tr, err := transport.New(drv)
//
// The cluster keeps everything in memory and disappears when closed. It
// creates topics on first use (like a development Kafka with
// auto.create.topics.enable) with WithPartitions partitions.
//
// # Concurrency
//
// A Cluster is safe for concurrent use.
//
// # Delivery semantics
//
// Those of Kafka, as kfake implements them: acks, idempotent producers,
// consumer groups and offset commits behave as on a real cluster. Nothing
// survives Close.
//
// # Errors
//
// Start returns an error wrapping ErrInvalidOption for a bad option, or
// kfake's error if the cluster cannot start; NewCluster fails the test
// instead.
package kafkatest
