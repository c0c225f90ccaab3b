package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/hostile"
	"github.com/tradebus/tradebus/transport/kafka"
)

// injectRaw returns a hostile.Scenario Inject that writes the message with
// a plain kgo producer, as an outside producer would: CloudEvents headers
// (ce_<attribute>, content-type), the symbol as record key, and a batch
// limit of Kafka's default max.message.bytes (1,048,588) instead of the
// tradebus producer's 1,000,012.
func injectRaw(tr *testTransport, brokers []string) func(testing.TB, *message.Message) {
	return func(t testing.TB, m *message.Message) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(1_048_588))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		rec := &kgo.Record{
			Topic: tr.Topic(m.Metadata.Get(events.MetaRoutingKey)),
			Key:   []byte(m.Metadata.Get(events.MetaPartitionKey)),
			Value: m.Payload,
		}
		for k, v := range m.Metadata {
			name := kafka.HeaderPrefix + k
			if k == events.MetaDataContentType {
				name = kafka.HeaderContentType
			}
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: name, Value: []byte(v)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("raw produce of %d bytes: %v", len(m.Payload), err)
		}
	}
}

// TestHostileBookNearTheLimit (issue 10): an outside producer writes a
// 999,559-byte OrderBook, legal for Kafka (max.message.bytes 1,048,588),
// and the handler rejects it. Its dead letter — the copy with the reason
// and the poison metadata — is over what the tradebus producer may send
// (Capabilities.MaxMessageBytes, 995,916 with the default 1,000,012):
// it was nacked with MESSAGE_TOO_LARGE and redelivered in its key's lane
// forever. Now the core refuses it before sending, the dead letter goes
// out slim with the book in PostgreSQL, the next book of the symbol is
// handled and publishing never fails meanwhile. Replay cannot put the book
// back (it is over the limit itself): it fails and the claim stays.
func TestHostileBookNearTheLimit(t *testing.T) {
	claims := hostile.Claims(t)
	brokers := testBrokers(t)
	tr := newTransport(t, brokers)
	if got := tr.Capabilities().MaxMessageBytes; got != kafka.DefaultMaxMessageBytes-4096 {
		t.Fatalf("MaxMessageBytes %d, want %d", got, kafka.DefaultMaxMessageBytes-4096)
	}
	book := hostile.Book(t, "BTCUSDT", 1, 999_559)
	if n := len(book.Payload); n < 999_000 {
		t.Fatalf("book of %d bytes", n)
	}
	hostile.Run(t, hostile.Scenario{Transport: tr.Portable, Claims: claims, Message: book, Slim: true, OverLimit: true, Inject: injectRaw(tr, brokers)})
}

// TestHostileTopicLimitBelowProducer: a dead-letter topic whose
// max.message.bytes (16 KiB here) is below the producer's limit. The core
// lets the 200 KB copy through, kgo compresses it to over 16 KiB (the
// broker measures the compressed batch) and the broker refuses it with
// MESSAGE_TOO_LARGE: the driver reports that as transport.ErrTooLarge, so
// the dead letter goes out slim instead of being retried forever, and
// Replay puts the book back on its key.
func TestHostileTopicLimitBelowProducer(t *testing.T) {
	claims := hostile.Claims(t)
	brokers := testBrokers(t)
	tr := newTransport(t, brokers)
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	limit := "16384"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dlTopic := tr.Topic("deadletter." + hostile.Group)
	if _, err := adm.CreateTopic(ctx, 4, 1, map[string]*string{"max.message.bytes": &limit}, dlTopic); err != nil {
		t.Fatalf("create %s: %v", dlTopic, err)
	}
	book := hostile.Book(t, "ETHUSDT", 1, 200_000)
	hostile.Run(t, hostile.Scenario{Transport: tr.Portable, Claims: claims, Message: book, Slim: true, Inject: injectRaw(tr, brokers)})
}
