package amqp_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport/amqp"
	"github.com/tradebus/tradebus/transport/driver"
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
			pt, ok := tr.drv.Topic().(driver.PipelinedTopic)
			if !ok {
				t.Fatal("the AMQP topic does not pipeline")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var waits []func() error
			for i := range n {
				s := strconv.Itoa(i)
				w, err := pt.SendPipelined(ctx, []*driver.Message{{
					UUID: "m" + s, Key: key, PartitionKey: "A",
					Metadata: map[string]string{"routingkey": key, "partitionkey": "A"},
					Payload:  []byte(s),
				}})
				if err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				waits = append(waits, w)
			}
			for i, w := range waits {
				if err := w(); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
			}
			got := receiveDriver(t, sub, n)
			var ids []driver.AckID
			for i, m := range got {
				if string(m.Payload) != strconv.Itoa(i) {
					t.Fatalf("message %d is %q: stored out of call order", i, m.Payload)
				}
				ids = append(ids, m.AckID)
			}
			if err := sub.SendAcks(ctx, ids); err != nil {
				t.Fatal(err)
			}
		})
	}
}
