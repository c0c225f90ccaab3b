package amqp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
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
	if err := transport.DeleteGroup(ctx, b, group, pattern); err != nil {
		t.Fatalf("DeleteGroup after the consumer left: %v", err)
	}
	if queueExists(t, e.url, a.QueueName(group, pattern)) {
		t.Error("the queue is still there after DeleteGroup")
	}
}
