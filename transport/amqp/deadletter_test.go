package amqp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
)

// TestDeadLettersKeptBeforeAnyReader: a topic exchange drops what no queue
// is bound to. With middleware.WithPoisonKept the stack binds the dead-letter
// reader's queue when it is built, so a dead letter published before anyone
// ever read the poison topic is stored by RabbitMQ (issue: "RabbitMQ drops
// dead letters nobody has bound yet").
func TestDeadLettersKeptBeforeAnyReader(t *testing.T) {
	e := newEnv(t)
	tr := e.transport(t)
	reader, err := tr.Subscriber("dlq")
	if err != nil {
		t.Fatal(err)
	}
	stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup("risk"),
		middleware.WithPoisonKept(reader), middleware.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := stack.Middleware(func(*message.Message) ([]*message.Message, error) {
		return nil, middleware.Permanent(errors.New("rejected by risk"))
	})
	msg := message.NewMessage("dead-1", []byte("{}"))
	msg.Metadata.Set(events.MetaRoutingKey, "order.binance.BTCUSDT")
	msg.SetContext(ctx)
	if _, err := h(msg); err != nil {
		t.Fatalf("poison middleware: %v", err)
	}
	ch, err := reader.Subscribe(ctx, stack.Poison.Topic())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		if m.UUID != "dead-1" {
			t.Errorf("dead letter %s, want dead-1", m.UUID)
		}
		m.Ack()
	case <-ctx.Done():
		t.Fatal("the dead letter published before any reader subscribed was not stored")
	}
}
