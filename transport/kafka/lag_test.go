package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/kafka"
)

func TestLagWithoutCommits(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(3))
	kind := randomName("k")
	for _, sym := range []string{"A", "B", "C", "D", "E"} {
		publish(t, tr, kind+".x."+sym, newMsg(sym, sym))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	lags, err := tr.Lag(ctx, randomName("never-joined"), kind+".#")
	if err != nil {
		t.Fatal(err)
	}
	if len(lags) != 3 {
		t.Fatalf("%d partitions, want 3 (WithPartitions)", len(lags))
	}
	var total int64
	for i, l := range lags {
		if l.Partition != int32(i) || l.Committed != -1 || l.Topic != tr.Topic(kind) {
			t.Errorf("lag %+v", l)
		}
		total += l.Lag
	}
	if total != 5 {
		t.Errorf("total lag %d, want 5", total)
	}
}

func TestWithoutTopicCreation(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithoutTopicCreation())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msg := newMsg("A", "x")
	msg.SetContext(ctx)
	err := tr.Publisher().Publish(randomName("missing")+".a", msg)
	var se *driver.SendError
	if !errors.As(err, &se) || !errors.Is(err, kerr.UnknownTopicOrPartition) || se.Failed[0] == nil {
		t.Fatalf("Publish to a missing topic: %v, want a *driver.SendError wrapping UnknownTopicOrPartition", err)
	}
}
