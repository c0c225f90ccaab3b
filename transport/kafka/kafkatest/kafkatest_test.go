package kafkatest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

func TestClusterProduceConsumeAndCut(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.WithBrokers(2), kafkatest.WithPartitions(3))
	if n := len(c.Brokers()); n != 2 {
		t.Fatalf("%d brokers, want 2", n)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.ConsumeTopics("t"),
		kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	produce := func(v string) {
		t.Helper()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	produce("before")
	if n := c.CutConnections(); n == 0 {
		t.Error("CutConnections cut nothing while a client was connected")
	}
	produce("after") // the client reconnects
	var got []string
	for len(got) < 2 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("got %v before %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if parts := c.Kfake().PartitionInfos("t"); len(parts) != 3 {
		t.Errorf("auto-created topic has %d partitions, want 3", len(parts))
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, opt := range []kafkatest.Option{nil, kafkatest.WithBrokers(0), kafkatest.WithPartitions(0),
		kafkatest.WithKfakeOptions(nil)} {
		if c, err := kafkatest.Start(opt); !errors.Is(err, kafkatest.ErrInvalidOption) {
			if c != nil {
				c.Close()
			}
			t.Errorf("Start: %v, want ErrInvalidOption", err)
		}
	}
}

// TestOutage: while the cluster is away no request gets through, not
// even on a new connection; after restore the client reconnects, and what
// was produced before is still there.
func TestOutage(t *testing.T) {
	c := kafkatest.NewCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.ConsumeTopics("t"),
		kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	restore := c.Outage()
	// The refused connections fail Ping at once (no timeout needed).
	if err := cl.Ping(ctx); err == nil {
		t.Fatal("Ping answered during the outage")
	}
	// A fresh client's first connection is refused too.
	fresh, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	err = fresh.Ping(ctx)
	fresh.Close()
	if err == nil {
		t.Fatal("a new client's Ping answered during the outage")
	}
	restore()
	restore() // idempotent
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("Ping after restore: %v", err)
	}
	fs := cl.PollFetches(ctx)
	if err := ctx.Err(); err != nil {
		t.Fatal(err)
	}
	var got []string
	fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	if len(got) != 1 || got[0] != "before" {
		t.Errorf("after the outage the topic holds %v, want [before]", got)
	}
}
