package kafka_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

const brokersEnv = "TRADEBUS_TEST_KAFKA_BROKERS"

// testBrokers returns the external cluster of TRADEBUS_TEST_KAFKA_BROKERS
// or starts an embedded one for t.
func testBrokers(t testing.TB) []string {
	t.Helper()
	if env := os.Getenv(brokersEnv); env != "" {
		return strings.Split(env, ",")
	}
	return kafkatest.NewCluster(t).Brokers()
}

func randomName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// testTransport is a Transport on the core with its Kafka driver at hand.
type testTransport struct {
	*transport.Portable
	drv *kafka.Driver
}

// Lag is the driver's Lag, per partition.
func (tr *testTransport) Lag(ctx context.Context, group, pattern string) ([]kafka.PartitionLag, error) {
	l, err := tr.drv.Lag(ctx, group, pattern)
	return l.Partitions, err
}

// Topic is the driver's TopicName.
func (tr *testTransport) Topic(key string) string { return tr.drv.TopicName(key) }

// wrap returns tt (a *transport.Portable on a Kafka driver) as a
// testTransport.
func wrap(t testing.TB, tt transport.Transport) *testTransport {
	t.Helper()
	p, ok := tt.(*transport.Portable)
	if !ok {
		t.Fatalf("transport %T, want *transport.Portable", tt)
	}
	drv, ok := p.Driver().(*kafka.Driver)
	if !ok {
		t.Fatalf("driver %T, want *kafka.Driver", p.Driver())
	}
	return &testTransport{Portable: p, drv: drv}
}

// newTransport returns a Transport on brokers with a topic prefix unique to
// the test; Close and (on an external cluster) the deletion of its topics
// are registered with t.Cleanup. opts are kafka.Options (for the driver)
// and transport.Options (for the core).
func newTransport(t testing.TB, brokers []string, opts ...any) *testTransport {
	t.Helper()
	prefix := randomName("tb") + "."
	kopts := []kafka.Option{
		kafka.WithTopicPrefix(prefix),
		kafka.WithPartitions(4),
		kafka.WithCommitInterval(100 * time.Millisecond),
		kafka.WithRevokeTimeout(2 * time.Second),
	}
	topts := []transport.Option{transport.WithCloseTimeout(2 * time.Second)}
	for _, o := range opts {
		switch o := o.(type) {
		case kafka.Option:
			kopts = append(kopts, o)
		case transport.Option:
			topts = append(topts, o)
		default:
			t.Fatalf("option %T", o)
		}
	}
	drv, err := kafka.NewDriver(brokers, kopts...)
	if err != nil {
		t.Fatalf("kafka.NewDriver: %v", err)
	}
	p, err := transport.New(drv, topts...)
	if err != nil {
		_ = drv.Close(context.Background())
		t.Fatalf("transport.New: %v", err)
	}
	tr := &testTransport{Portable: p, drv: drv}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if os.Getenv(brokersEnv) != "" {
			deleteTopics(t, brokers, prefix)
		}
	})
	return tr
}

// deleteTopics removes the topics starting with prefix from a shared
// cluster.
func deleteTopics(t testing.TB, brokers []string, prefix string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Errorf("cleanup client: %v", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Errorf("cleanup: list topics: %v", err)
		return
	}
	var mine []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, prefix) {
			mine = append(mine, name)
		}
	}
	if len(mine) > 0 {
		if _, err := adm.DeleteTopics(ctx, mine...); err != nil {
			t.Errorf("cleanup: delete topics: %v", err)
		}
	}
}
