package transporttest_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
	"github.com/tradebus/tradebus/transport/transporttest"
)

// TestRunOnMem runs the suite on the in-memory transport, which claims
// every capability. (Mutations of mem — ignoring the partition key,
// matching every key, dropping nacked or abandoned messages, not draining
// on Close, a serial pool under ParallelKeys — each fail it.)
func TestRunOnMem(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Transport {
		tr, err := mem.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = tr.Close(ctx)
		})
		return tr
	}, transporttest.Capabilities{
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		OrderAcrossMembers: true,
		DurableGroups:      true,
		Timeout:            10 * time.Second,
	})
}

func TestUniqueName(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := transporttest.UniqueName("tb")
		if err := events.ValidateSegment(n); err != nil {
			t.Fatalf("UniqueName: %q is not a valid key segment: %v", n, err)
		}
		if seen[n] {
			t.Fatalf("UniqueName repeated %q", n)
		}
		seen[n] = true
	}
}
