package amqp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
)

// TestDeleteGroupInUseElsewhere: DeleteGroup refuses while another
// connection (another process) consumes the group's queue, and the queue
// stays; once that consumer is gone the delete succeeds.
func TestDeleteGroupInUseElsewhere(t *testing.T) {
	e := newEnv(t)
	a, b := e.transport(t), e.transport(t)
	group, pattern := "g"+randSuffix(), "ops"+randSuffix()+".#"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := a.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctx, pattern); err != nil {
		t.Fatal(err)
	}
	// The consumer may register after Subscribe returned (and a quorum
	// queue reports it a moment later): wait until the broker counts it.
	ch := admin(t, e.url)
	for {
		q, err := ch.QueueDeclarePassive(a.QueueName(group, pattern), true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Consumers > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the broker never counted the consumer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	err = transport.DeleteGroup(ctx, b, group, pattern)
	if !errors.Is(err, transport.ErrGroupInUse) {
		t.Fatalf("DeleteGroup while another connection consumes: %v, want transport.ErrGroupInUse", err)
	}
	if !queueExists(t, e.url, a.QueueName(group, pattern)) {
		t.Fatal("the queue was deleted although DeleteGroup failed")
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	// A quorum queue counts its consumers with a delay: the one that left
	// may be counted for a moment.
	for {
		err = transport.DeleteGroup(ctx, b, group, pattern)
		if !errors.Is(err, transport.ErrGroupInUse) || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("DeleteGroup after the consumer left: %v", err)
	}
	if queueExists(t, e.url, a.QueueName(group, pattern)) {
		t.Error("the queue is still there after DeleteGroup")
	}
}

func BenchmarkOps(b *testing.B) {
	e := newEnv(b)
	brokertest.BenchOps(b, e.transport(b), "bench"+randSuffix()+".#")
}

// TestLagFiltered: a queue holds only what its binding matches.
func TestLagFiltered(t *testing.T) {
	e := newEnv(t)
	brokertest.CheckLagFiltered(t, e.transport(t), ".*", 3, 20*time.Second)
}
