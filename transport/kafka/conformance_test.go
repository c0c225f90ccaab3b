package kafka_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// groupState asks the cluster with a client of its own whether the
// Kafka consumer group of (group, pattern) exists.
func groupState(brokers []string) transporttest.GroupStateFunc {
	return func(t *testing.T, _ transport.Transport, group, pattern string) bool {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatalf("kgo.NewClient: %v", err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		groups, err := kadm.NewClient(cl).ListGroups(ctx)
		if err != nil {
			t.Fatalf("ListGroups: %v", err)
		}
		_, ok := groups[kafka.GroupID(group, pattern)]
		return ok
	}
}

// TestConformance runs the conformance suite on the embedded cluster (or
// the external one of TRADEBUS_TEST_KAFKA_BROKERS). The embedded cluster
// is the test's own: AsyncOutage and Ping take it away from the
// transports (every connection closed, new ones refused) and bring it
// back. An external cluster cannot be taken away (its brokers advertise
// their own addresses, so a proxy in front would be bypassed): there the
// outage cases skip.
func TestConformance(t *testing.T) {
	var (
		brokers    []string
		outage     func(*testing.T) func()
		outageSkip string
	)
	if env := os.Getenv(brokersEnv); env != "" {
		brokers = strings.Split(env, ",")
		outageSkip = "external cluster (" + brokersEnv + "): its brokers advertise their own addresses, so a proxy cannot cut them off"
	} else {
		c := kafkatest.NewCluster(t)
		brokers = c.Brokers()
		outage = func(*testing.T) func() { return c.Outage() }
	}
	caps := transporttest.Capabilities{
		KeepsHistory:       true,
		Outage:             outage,
		OutageSkip:         outageSkip,
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		OrderAcrossMembers: true,
		DurableGroups:      true,
		Timeout:            20 * time.Second,
		URL:                "kafka://" + strings.Join(brokers, ","),
		GroupState:         groupState(brokers),
		// Kafka knows committed offsets, not what a member has fetched.
		LagUnknown:    []string{"Pending", "InFlight"},
		LagPartitions: true,
	}
	t.Run("default", func(t *testing.T) {
		transporttest.Run(t, func(t *testing.T) transport.Transport {
			return newTransport(t, brokers)
		}, caps)
	})
	t.Run("concurrency=1", func(t *testing.T) {
		caps := caps
		caps.ParallelKeys = false
		transporttest.Run(t, func(t *testing.T) transport.Transport {
			return newTransport(t, brokers, transport.WithConcurrency(1))
		}, caps)
	})
}

// TestWatermillUniversal runs Watermill's universal Pub/Sub suite. Every
// pub/sub pair is a Transport of its own on one cluster; the suite's
// topics (topic-<uuid>) are one-segment routing keys: the kind.
func TestWatermillUniversal(t *testing.T) {
	brokers := testBrokers(t)
	features := tests.Features{
		ConsumerGroups: true,
		// Order is kept per partition key; the suite's messages carry
		// none, so they are all one key and must arrive in order.
		GuaranteedOrder:                  true,
		Persistent:                       true,
		ExactlyOnceDelivery:              false,
		NewSubscriberReceivesOldMessages: false, // run below, with a group per subscriber
	}
	opts := []any{
		kafka.WithTopicPrefix(randomName("wm") + "."),
		// The suite joins up to 50 members to one group one after the
		// other: a short heartbeat makes each rebalance quick. It nacks
		// one message 100 times in a row: a short backoff keeps that
		// quick too.
		kafka.WithGroupTimeouts(6*time.Second, 100*time.Millisecond),
		transport.WithRedeliveryBackoff(time.Millisecond, 5*time.Millisecond),
		// TestMessageCtx closes a subscriber holding a message and waits
		// for its ctx to end: Subscriber.Close drains up to this long.
		transport.WithCloseTimeout(time.Second),
	}
	pubSub := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		tr := newTransport(t, brokers, opts...)
		sub, err := tr.Subscriber(group)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Publisher(), sub
	}
	t.Run("suite", func(t *testing.T) {
		tests.TestPubSub(t, features,
			func(t *testing.T) (message.Publisher, message.Subscriber) { return pubSub(t, "test") },
			pubSub)
	})
	t.Run("NewSubscriberReceivesOldMessages", func(t *testing.T) {
		f := features
		f.NewSubscriberReceivesOldMessages = true
		tests.TestNewSubscriberReceivesOldMessages(t, tests.TestContext{TestID: tests.NewTestID(), Features: f},
			func(t *testing.T) (message.Publisher, message.Subscriber) { return pubSub(t, randomName("g")) })
	})
}
