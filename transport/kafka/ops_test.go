package kafka_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradebus/tradebus/events"
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
	brokertest.CheckLagFiltered(t, newTransport(t, testBrokers(t)), ".*", 5, 20*time.Second)
}

// TestOpsRequests counts the requests Ping and Lag send to the cluster.
func TestOpsRequests(t *testing.T) {
	cluster := kafkatest.NewCluster(t)
	tr := newTransport(t, cluster.Brokers())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	group, pattern := randomName("g"), randomName("k")+".#"
	publish(t, tr, events.Key(events.Kind(pattern), "x", "A"), newMsg("A", "a"))
	if _, err := transport.Lag(ctx, tr, group, pattern); err != nil { // warms the coordinator lookup
		t.Fatal(err)
	}
	var mu sync.Mutex
	counts := map[string]int{}
	kf := cluster.Kfake()
	kf.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		mu.Lock()
		counts[kmsg.NameForKey(req.Key())]++
		mu.Unlock()
		return nil, nil, false
	})
	count := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		c := counts
		counts = map[string]int{}
		return c
	}
	if err := tr.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(); got["Metadata"] != 1 || len(got) != 1 {
		t.Errorf("Ping sent %v, want one Metadata request", got)
	}
	if _, err := transport.Lag(ctx, tr, group, pattern); err != nil {
		t.Fatal(err)
	}
	// Topic metadata comes from the client's cache while it is fresh:
	// two Metadata requests at most.
	got := count()
	meta := got["Metadata"]
	delete(got, "Metadata")
	if want := map[string]int{"ListOffsets": 2, "OffsetFetch": 1}; !maps.Equal(got, want) || meta > 2 {
		t.Errorf("Lag sent %v and %d Metadata, want %v and at most 2 Metadata", got, meta, want)
	}
}
