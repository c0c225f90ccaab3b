package amqp_test

import (
	"context"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport/amqp"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
)

// TestSendPipelinedKeepsOrder: batches of one key sent with SendPipelined
// one after the other, every one in flight before any confirm is awaited,
// are all confirmed and stored in call order; with WithMandatory too (each
// call then waits for its own confirms).
func TestSendPipelinedKeepsOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []any
	}{
		{"confirms", nil},
		{"mandatory", []any{amqp.WithMandatory()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tr := e.transport(t, tc.opts...)
			const key, n = "trade.x.A", 60
			sub := driverSub(t, tr, "g", "trade.x.#")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			brokertest.SendPipelined(ctx, t, tr.drv.Topic(), key, "A", n)
			got := receiveDriver(t, sub, n)
			ids := brokertest.InCallOrder(t, got)
			if err := sub.SendAcks(ctx, ids); err != nil {
				t.Fatal(err)
			}
		})
	}
}
