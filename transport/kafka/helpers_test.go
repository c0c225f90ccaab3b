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

// newTransport returns a Transport on brokers with a topic prefix unique to
// the test; Close and (on an external cluster) the deletion of its topics
// are registered with t.Cleanup.
func newTransport(t testing.TB, brokers []string, opts ...kafka.Option) *kafka.Transport {
	t.Helper()
	prefix := randomName("tb") + "."
	opts = append([]kafka.Option{
		kafka.WithTopicPrefix(prefix),
		kafka.WithPartitions(4),
		kafka.WithCommitInterval(100 * time.Millisecond),
		kafka.WithCloseTimeout(2 * time.Second),
	}, opts...)
	tr, err := kafka.New(brokers, opts...)
	if err != nil {
		t.Fatalf("kafka.New: %v", err)
	}
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
