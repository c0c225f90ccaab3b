package mem_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
	"github.com/tradebus/tradebus/transport/transporttest"
)

func newMem(t testing.TB, opts ...mem.Option) *transport.Portable {
	t.Helper()
	tr, err := mem.New(opts...)
	if err != nil {
		t.Fatalf("mem.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tr
}

func TestConformance(t *testing.T) {
	caps := transporttest.Capabilities{
		ParallelKeys:       true,
		OrderAfterNack:     true,
		ConsumerGroupShare: true,
		OrderAcrossMembers: true,
		DurableGroups:      true,
		Timeout:            10 * time.Second,
		URL:                "mem://",
		// AsyncOutage needs a broker to take away; mem is in-process.
		OutageSkip: "mem is in-process: there is no broker or connection to lose",
		GroupState: func(t *testing.T, tr transport.Transport, group, pattern string) bool {
			return mem.HasQueue(tr.(*transport.Portable).Driver().(*mem.Driver), group, pattern)
		},
	}
	t.Run("default", func(t *testing.T) {
		transporttest.Run(t, func(t *testing.T) transport.Transport { return newMem(t) }, caps)
	})
	t.Run("history", func(t *testing.T) {
		caps := caps
		caps.KeepsHistory = true
		caps.URL = "mem://?history=1024"
		transporttest.Run(t, func(t *testing.T) transport.Transport {
			return newMem(t, mem.WithHistory(1024)) // History reads 600 messages of one kind
		}, caps)
	})
	t.Run("concurrency=1", func(t *testing.T) {
		caps := caps
		caps.ParallelKeys = false
		transporttest.Run(t, func(t *testing.T) transport.Transport {
			return newMem(t, mem.WithConcurrency(1), mem.WithBuffer(16))
		}, caps)
	})
}
