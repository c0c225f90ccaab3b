package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// TestPingBrokerGone: Ping answers while the cluster runs and fails once
// it is gone; after Close the driver's Ping returns ErrClosed.
func TestPingBrokerGone(t *testing.T) {
	cluster := kafkatest.NewCluster(t)
	tr := newTransport(t, cluster.Brokers())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tr.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cluster.Close()
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if err := tr.Ping(pctx); err == nil {
		t.Fatal("Ping answered nil with the cluster gone")
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.drv.Ping(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("driver Ping after Close: %v, want ErrClosed", err)
	}
}

// TestDeleteGroupInUseElsewhere: DeleteGroup refuses while a member of
// the group runs in another client (another process), and the group
// stays; once that member left, the delete succeeds.
func TestDeleteGroupInUseElsewhere(t *testing.T) {
	brokers := testBrokers(t)
	a := newTransport(t, brokers)
	group, pattern := randomName("g"), randomName("k")+".#"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := a.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctx, pattern); err != nil {
		t.Fatal(err)
	}
	// Another client: the Kafka group id does not depend on the topic
	// prefix.
	b := newTransport(t, brokers)
	if err := transport.DeleteGroup(ctx, b, group, pattern); !errors.Is(err, transport.ErrGroupInUse) {
		t.Fatalf("DeleteGroup while a member runs: %v, want transport.ErrGroupInUse", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := transport.DeleteGroup(ctx, b, group, pattern); err != nil {
		t.Fatalf("DeleteGroup after the member left: %v", err)
	}
}

func BenchmarkOps(b *testing.B) {
	brokertest.BenchOps(b, newTransport(b, testBrokers(b)), randomName("bench")+".#")
}

// TestLagFiltered: the group reads the kind's whole topic, so Lag counts
// the keys its pattern filters out too.
func TestLagFiltered(t *testing.T) {
	brokertest.CheckLagFiltered(t, newTransport(t, testBrokers(t)), 5, 20*time.Second)
}
