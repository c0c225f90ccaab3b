package amqp_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
)

// TestBrowseKeepsQueue: listing a queue (transport.Browse, what
// `tradebus-dlq list` does) more often than the quorum delivery limit
// loses nothing; the queue keeps its messages in order, and — quorum —
// their delivery count does not grow (copies put back), or — classic —
// they are requeued in place with only the redelivered flag. Messages a
// member holds unacked are not shown (not ready), and come back intact.
func TestBrowseKeepsQueue(t *testing.T) {
	for _, qt := range []amqp.QueueType{amqp.QueueQuorum, amqp.QueueClassic} {
		t.Run(string(qt), func(t *testing.T) {
			e := newEnv(t)
			opts := []any{amqp.WithQueueType(qt)}
			if qt == amqp.QueueQuorum {
				opts = append(opts, amqp.WithDeliveryLimit(2))
			}
			tr := e.transport(t, opts...)
			const topic = "deadletter.risk"
			reader, err := tr.Subscriber("dlq")
			if err != nil {
				t.Fatal(err)
			}
			if err := reader.(message.SubscribeInitializer).SubscribeInitialize(topic); err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 5 {
				m := message.NewMessage("dl-"+strconv.Itoa(i), []byte(strconv.Itoa(i)))
				m.Metadata.Set("partitionkey", "K"+strconv.Itoa(i))
				if err := tr.Publisher().Publish(topic, m); err != nil {
					t.Fatal(err)
				}
				want = append(want, m.UUID)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			browse := func() (ids []string, md []message.Metadata) {
				t.Helper()
				if err := transport.Browse(ctx, tr, "dlq", topic, func(m *message.Message) bool {
					ids = append(ids, m.UUID)
					md = append(md, m.Metadata)
					return true
				}); err != nil {
					t.Fatal(err)
				}
				return ids, md
			}
			for i := range 5 { // more than the delivery limit of 2
				if ids, _ := browse(); !slices.Equal(ids, want) {
					t.Fatalf("browse %d: %v, want %v", i+1, ids, want)
				}
			}
			// A member takes the messages: all there, intact, and (quorum)
			// never counted as delivered before. It acks two and holds three.
			ch, err := reader.Subscribe(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := range want {
				select {
				case m := <-ch:
					got = append(got, m.UUID)
					if string(m.Payload) != m.UUID[len("dl-"):] || m.Metadata.Get("routingkey") != topic {
						t.Errorf("delivery %s: payload %q metadata %v", m.UUID, m.Payload, m.Metadata)
					}
					if qt == amqp.QueueQuorum && m.Metadata.Get("x-delivery-count") != "" {
						t.Errorf("delivery %s: x-delivery-count %s after browsing: counted", m.UUID, m.Metadata.Get("x-delivery-count"))
					}
					if i < 2 {
						m.Ack()
						continue
					}
					defer m.Nack()
				case <-ctx.Done():
					t.Fatalf("%d of %d delivered after browsing: %v", len(got), len(want), got)
				}
			}
			if !slices.Equal(slices.Sorted(slices.Values(got)), want) {
				t.Fatalf("delivered %v, want %v", got, want)
			}
			// Three held unacked by the member: not ready, not shown.
			if ids, _ := browse(); len(ids) != 0 {
				t.Fatalf("browse while a member holds them: %v, want none", ids)
			}
		})
	}
}

// TestQuorumRequeueCounts is why Browse puts copies back into quorum
// queues instead of taking messages and closing the channel: on this
// broker (RabbitMQ before 4.3) each such return counts as a delivery, and
// a message past x-delivery-limit is dropped. If this starts failing the
// broker no longer counts returns, and Browse could requeue in place.
func TestQuorumRequeueCounts(t *testing.T) {
	e := newEnv(t)
	ch := admin(t, e.url)
	q := "tbtest-requeue-" + randSuffix()
	e.clean.queue(q)
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp091.Table{"x-queue-type": "quorum", "x-delivery-limit": int64(2)}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirm("", q, false, false, amqp091.Publishing{Body: []byte("x")})
	if err != nil || !dc.Wait() {
		t.Fatalf("publish: %v", err)
	}
	var counts []any
	for range 4 {
		c := admin(t, e.url)
		d, ok, err := c.Get(q, false)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			counts = append(counts, "gone")
			break
		}
		counts = append(counts, d.Headers["x-delivery-count"])
		_ = c.Close() // returns the message
	}
	if counts[len(counts)-1] != "gone" {
		t.Fatalf("get-and-close rounds saw delivery counts %v: the message survived them; requeues are no longer counted", counts)
	}
}
