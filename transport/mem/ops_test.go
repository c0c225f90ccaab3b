package mem_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/mem"
)

func BenchmarkOps(b *testing.B) {
	brokertest.BenchOps(b, newMem(b), "bench.#")
}

// TestLagFiltered: a mem queue holds only what matches its pattern.
func TestLagFiltered(t *testing.T) {
	brokertest.CheckLagFiltered(t, newMem(t), ".*", 3, 10*time.Second)
}

// TestDeleteGroupFreesBlockedPublish: a publish waiting for room in a
// group's full queue returns (nothing is kept for a deleted group) when
// the group is deleted.
func TestDeleteGroupFreesBlockedPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := mem.New(mem.WithBuffer(1))
		if err != nil {
			t.Fatal(err)
		}
		defer closeNow(t, tr)
		ctx := context.Background()
		sub, err := tr.NewSubscriber("risk")
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.SubscribeInitialize("exec.#"); err != nil {
			t.Fatal(err)
		}
		mustPublish(t, tr, "exec.x.A", newMsg("A", "1")) // fills the queue
		blocked := make(chan error, 1)
		go func() { blocked <- tr.Publisher().Publish("exec.x.A", newMsg("A", "2")) }()
		synctest.Wait()
		select {
		case err := <-blocked:
			t.Fatalf("Publish to a full queue returned %v, want it to wait", err)
		default:
		}
		if err := transport.DeleteGroup(ctx, tr, "risk", "exec.#"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case err := <-blocked:
			if err != nil {
				t.Errorf("blocked Publish: %v, want nil", err)
			}
		default:
			t.Fatal("the publish waiting for room in the deleted queue did not return")
		}
		if mem.HasQueue(tr.Driver().(*mem.Driver), "risk", "exec.#") {
			t.Error("queue still there")
		}
	})
}
